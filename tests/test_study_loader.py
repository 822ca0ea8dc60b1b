"""Study files: one Study, or one clear error naming the file, the field and the fix."""

import pytest

import sweeper as sw
from sweeper import StudyFileError
from sweeper.study._loader import load_study_file

VALID = """
study = sw.Study(name="ok", data=load_data, model=build_model, monitor="val_accuracy",
                 callbacks=[sw.EarlyStopping(patience=sw.choice(2, 4))])
"""


def test_loads_the_one_study(write_study):
    study = load_study_file(write_study(VALID))
    assert study.name == "ok" and study.monitor == "val_accuracy"
    assert list(study.searched_callback_params()) == ["EarlyStopping.patience"]


def error_of(path) -> str:
    with pytest.raises(StudyFileError) as error:
        load_study_file(path)
    return str(error.value)


def test_missing_and_non_python_files(tmp_path):
    assert "no such file" in error_of(tmp_path / "nope.py")
    text = tmp_path / "study.txt"
    text.write_text("x")
    assert "not a Python study file" in error_of(text)


def test_syntax_error_names_file_and_line(write_study):
    path = write_study("study = sw.Study(name='x',\n  data=load_data model=build_model)\n")
    message = error_of(path)
    assert f"{path}:" in message and "syntax error" in message


def test_no_study_and_two_studies(write_study):
    assert "defines no sweeper.Study" in error_of(write_study("x = 1"))
    two = VALID + "\nother = sw.Study(name='b', data=load_data, model=build_model)\n"
    assert "defines 2 studies (other, study)" in error_of(write_study(two))


def test_misspelt_callback_parameter_names_line_and_valid_parameters(write_study):
    path = write_study(
        "study = sw.Study(name='x', data=load_data, model=build_model,\n"
        "    callbacks=[sw.ReduceLROnPlateau(factr=0.5)])\n"
    )
    message = error_of(path)
    lines = path.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "factr" in text)
    assert f"{path}:{line}" in message
    assert "unknown parameter 'factr'" in message and "did you mean factor?" in message


@pytest.mark.parametrize(
    "field, message",
    [
        ("epochs=0", "epochs=0 must be a positive integer"),
        ("n_trials=2.5", "n_trials=2.5 must be a positive integer"),
        ("epoch_budget=0", "epoch_budget=0 must be a positive integer"),
        ("name='../x'", "name='../x' starts with '.'"),
        ("name='/abs'", "name='/abs' starts with '/'"),
        ("pruner='medain'", "pruner='medain' is unknown"),
        ("data=load_data()", "data= must be a function"),
        ("fit_kwargs={'epochs': 3}", "sweeper sets itself"),
        ("mode='maximise'", "mode='maximise' is not one of"),
    ],
)
def test_bad_study_fields(write_study, field, message):
    base = {"name": "'x'", "data": "load_data", "model": "build_model"}
    key = field.split("=", 1)[0]
    base[key] = field.split("=", 1)[1]
    args = ", ".join(f"{k}={v}" for k, v in base.items())
    assert message in error_of(write_study(f"study = sw.Study({args})\n"))


def test_an_exception_in_the_file_names_its_line(write_study):
    path = write_study("raise RuntimeError('boom')\n")
    message = error_of(path)
    assert "RuntimeError: boom" in message and f"{path}:" in message


def test_errors_say_how_to_fix_them(write_study):
    assert "Fix:" in error_of(write_study("study = sw.Study(name='x', data=load_data, model=build_model, epochs=-1)"))


def test_study_is_public_api():
    assert {"Study", "choice", "EarlyStopping", "run"} <= set(sw.__all__)
