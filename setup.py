"""Package layout and installed files, the two things pyproject.toml cannot say.

* The programs' modules live in tools/ (beside lib/, as tidelog(7)'s layout shows) but install
  as the subpackage ``tidelog.tools``, so the distribution owns no top-level import name but
  ``tidelog``. Every package under lib/tidelog is found, so a new one needs no entry here.
  lib/ never imports tidelog.tools.
* Man pages and shell completions install under the environment's prefix (``<venv>/share``),
  where man-db finds them from PATH (``<venv>/bin`` -> ``<venv>/share/man``) and
  bash-completion >= 2.12 finds ``share/bash-completion/completions``; zsh and fish need the
  one line the README gives. The globs are read at build time, so a new program's man page and
  completion files are picked up without an edit here.
"""

from glob import glob

from setuptools import find_packages, setup
from setuptools.command.editable_wheel import editable_wheel


class EditableWithData(editable_wheel):
    """``pip install -e .`` with the man pages and completions installed too.

    setuptools' editable build means to install data files "as non editable", but it asks the
    distribution for ``has_data()``, which does not exist (the method is ``has_data_files``),
    so an editable install silently ships no man pages. This runs install_data in that step;
    with a setuptools that has no such step it does nothing (only the man pages go missing).
    """

    def _run_install(self, category: str) -> None:
        if category == "data" and self.distribution.has_data_files():
            self.run_command("install_data")
            return
        super()._run_install(category)


def files(pattern: str) -> list[str]:
    return sorted(glob(pattern))


setup(
    cmdclass={"editable_wheel": EditableWithData},
    package_dir={"": "lib", "tidelog.tools": "tools"},
    packages=[*find_packages("lib", include=["tidelog", "tidelog.*"]), "tidelog.tools"],
    data_files=[
        ("share/man/man1", files("man/*.1")),
        ("share/man/man5", files("man/*.5")),
        ("share/man/man7", files("man/*.7")),
        ("share/man/man8", files("man/*.8")),
        ("share/bash-completion/completions", files("completions/*.bash")),
        ("share/zsh/site-functions", files("completions/_*")),
        ("share/fish/vendor_completions.d", files("completions/*.fish")),
        ("share/doc/tidelog", ["examples/tidelog.toml"]),
    ],
)
