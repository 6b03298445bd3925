"""Everything is declared in pyproject.toml; this only ships the tutorials inside the package.

``notebooks/0*.ipynb`` stay at the repository root (README, binder/ and the tests use them there) and
are copied into the built package as ``mlops_magic/notebooks/``, where ``mlops-magic tutorials`` finds them.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TUTORIALS = sorted((Path(__file__).resolve().parent / "notebooks").glob("0*.ipynb"))


class BuildWithTutorials(build_py):
    def run(self):
        super().run()
        if not self.editable_mode:  # an editable install reads them from notebooks/ itself
            target = Path(self.build_lib, "mlops_magic", "notebooks")
            self.mkpath(str(target))
            for notebook in TUTORIALS:
                self.copy_file(str(notebook), str(target / notebook.name))


setup(cmdclass={"build_py": BuildWithTutorials})
