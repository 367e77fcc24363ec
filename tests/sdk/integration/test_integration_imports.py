"""Each integration imports its framework only inside itself, and names what to install when it is missing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("module", "blocked", "install"), [
    ("lightning", ("lightning", "pytorch_lightning"), "pip install lightning (or pytorch-lightning)"),
    ("pytorch_lightning", ("pytorch_lightning",), "pip install pytorch-lightning"),
    ("keras", ("keras",), "pip install keras"),
    ("transformers", ("transformers",), "pip install transformers"),
])
def test_a_missing_framework_is_an_import_error_naming_the_package_to_install(module, blocked, install):
    # sys.modules[name] = None is how Python itself spells "this module cannot be imported".
    done = python(f"import sys; sys.modules.update(dict.fromkeys({blocked!r}))\n"
                  f"try:\n    import darkroom.integration.{module}\n"
                  "except ImportError as e:\n    print(e)\nelse:\n    print('imported')")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"darkroom.integration.{module} needs "), done.stdout
    assert done.stdout.rstrip().endswith(f"install it with: {install}"), done.stdout


def test_lightning_s_logger_comes_from_pytorch_lightning_where_only_that_is_installed():
    done = python("import sys; sys.modules['lightning'] = None\n"
                  "from darkroom.integration.lightning import DarkroomLogger\n"
                  "print(DarkroomLogger.__mro__[1].__module__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "pytorch_lightning.loggers.logger"


def test_darkroom_and_the_framework_free_integrations_load_no_framework():
    done = python("import sys, darkroom, darkroom.tensorboard, darkroom.integration.ultralytics\n"
                  "print(sorted(m for m in ('torch', 'tensorboardX', 'keras', 'lightning', 'transformers') "
                  "if m in sys.modules))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_keras_without_a_backend_says_to_set_keras_backend(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)  # no keras.json naming a backend: Keras' default, TensorFlow, is absent
    done = subprocess.run([sys.executable, "-c", "import darkroom.integration.keras"], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 1
    assert ("Keras 3 uses TensorFlow unless told otherwise: set KERAS_BACKEND=torch (or jax) before importing "
            "keras, or pip install tensorflow") in done.stderr
