"""The error raised for a saved file that is malformed, unsafe, or does not match the model it is loaded into."""


class SavedFileError(ValueError):
    """A file could not be loaded: the message names the file, what is wrong, and what to do.

    It is a `ValueError`, as Keras raises for the same cases. Nothing has been changed when it is raised: loading
    validates everything before it assigns anything.
    """

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"Cannot load {self.path}: {problem}")
