"""Griffe extension for the API reference (mkdocs.yml names this file).

- A package without `__all__` (`deepglass.layers`), or with one griffe cannot read (`deepglass.metrics` computes
  its), makes its API by importing names from its own submodules (`from deepglass.layers.core import Dense`);
  griffe counts imported names as private, so its reference would be empty. Those names are marked public.
  Packages with a plain `__all__` keep griffe's rule: `__all__` is their API.
- Docstrings head their `>>>` examples with `Example:`, as Keras's do; Google style (and griffe) read only
  `Examples:` as examples and `Example:` as a note, so the examples would render as prose, not code.
- Arguments that share a description are listed together, and the list may run over two lines
  (`kernel_initializer, bias_initializer,` / `kernel_regularizer: ...`); Google style wants the names and the
  colon on one line, so such a list is joined into one.
"""
import re

import griffe

_EXAMPLE_HEADING = re.compile(r"^([ \t]*)Example(?: \((.+)\))?:[ \t]*$", re.MULTILINE)  # `Example (what it shows):` too
_NAMES_BROKEN_OFF = re.compile(r"^([ \t]+)(\**\w+(?:, \**\w+)*,)[ \t]*\n\1[ \t]*(?=\**\w+[,:])", re.MULTILINE)


class DeepglassDocstrings(griffe.Extension):
    def on_module_members(self, *, mod, **kwargs):
        if not mod.is_init_module or mod.exports:
            return
        for name, member in mod.members.items():
            if member.is_alias and not name.startswith("_") and member.target_path.startswith(mod.path + "."):
                member.public = True

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            text, joined = _EXAMPLE_HEADING.sub(_examples_heading, obj.docstring.value), 1
            while joined:
                text, joined = _NAMES_BROKEN_OFF.subn(r"\1\2 ", text)
            obj.docstring.value = text


def _examples_heading(match):
    indent, caption = match.groups()
    return f"{indent}Examples:" + (f"\n{indent}    {caption[0].upper()}{caption[1:]}:" if caption else "")
