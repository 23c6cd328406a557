"""Keras 1 and 2 spellings of training methods that course material and older programs still use. Each warns once
(DeprecationWarning) and calls the Keras 3 method it became."""
import warnings

_warned = set()


def warn_once(key, message, stacklevel=3):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, DeprecationWarning, stacklevel=stacklevel)


def epochs_of(epochs, legacy):
    """`fit`'s epochs, given Keras 1's `nb_epoch` among the legacy keyword arguments; a TypeError for any other."""
    unknown = sorted(set(legacy) - {"nb_epoch"})
    if unknown:
        raise TypeError(f"fit() got unexpected keyword arguments {unknown}.")
    if "nb_epoch" in legacy:
        warn_once("nb_epoch", "nb_epoch is the Keras 1 name of fit()'s epochs; use epochs=.", stacklevel=4)
        return legacy["nb_epoch"]
    return epochs


class LegacyTrainingMethods:
    """`fit_generator`, `evaluate_generator` and `predict_generator` (Keras 2's names for `fit`, `evaluate` and
    `predict` on a generator or `PyDataset`, which those take directly), `predict_classes` and `predict_proba`."""

    def predict_classes(self, x, batch_size=32, verbose=0):
        """Keras 2's class predictions: the arg-max of the outputs, or `output > 0.5` for one sigmoid unit.

        Removed from Keras 2.6 onward; kept for course material. Prefer `predict(x).argmax(-1)`.
        """
        warn_once("predict_classes", "predict_classes() is the Keras 2 spelling; use predict(x).argmax(axis=-1) "
                                      "(or (predict(x) > 0.5) for a sigmoid output).")
        probabilities = self.predict(x, batch_size=batch_size, verbose=verbose)
        if probabilities.shape[-1] > 1:
            return probabilities.argmax(axis=-1)
        return (probabilities > 0.5).astype("int32")

    def predict_proba(self, x, batch_size=32, verbose=0):
        """Keras 2's name for `predict` on a classifier."""
        warn_once("predict_proba", "predict_proba() is the Keras 2 spelling of predict().")
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, class_weight=None, max_queue_size=10, workers=1,
                      use_multiprocessing=False, shuffle=True, initial_epoch=0):
        warn_once("fit_generator", "fit_generator() is the Keras 2 spelling; fit() takes generators.")
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
                        class_weight=class_weight, shuffle=shuffle, initial_epoch=initial_epoch)

    def evaluate_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                           use_multiprocessing=False, verbose=0):
        warn_once("evaluate_generator", "evaluate_generator() is the Keras 2 spelling; evaluate() takes generators.")
        return self.evaluate(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                          use_multiprocessing=False, verbose=0):
        warn_once("predict_generator", "predict_generator() is the Keras 2 spelling; predict() takes generators.")
        return self.predict(generator, steps=steps, callbacks=callbacks, verbose=verbose)
