import json


def test_version(cli):
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("edgecnn ")


def test_models_lists_with_wildcards(cli):
    r = cli("models", "mobilenet_v3*", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["name"] for x in rows] == ["mobilenet_v3_large", "mobilenet_v3_small"]
    assert rows[1]["reference_params"] == 2542856


def test_models_table(cli):
    r = cli("models", "resnet*")
    assert r.returncode == 0
    assert "resnet50" in r.stdout and "25.56 M" in r.stdout


def test_info_prints_card_and_layers(cli):
    r = cli("info", "lenet5", "--json")  # the card table: no layers, the built model's parameters
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert "layers" not in info and info["params"] == info["card"]["reference_params"] == 62006
    r = cli("info", "lenet5", "--layers", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["params"] == info["card"]["reference_params"]
    assert [l["type"] for l in info["layers"]][:2] == ["Conv2d", "Tanh"]
    assert info["layers"][-1]["output_shape"] == [10]


def test_unknown_model_is_one_line_nonzero(cli):
    r = cli("info", "resnet51")
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert "did you mean" in r.stderr and "resnet50" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_options_are_one_line_errors(cli):
    for args in (["info", "mobilenet_v1", "--opt", "width_mult=0.3"], ["info", "lenet5", "--input-size", "8"],
                 ["models", "nosuchthing*"]):
        r = cli(*args)
        assert r.returncode != 0, args
        assert "Traceback" not in r.stderr and r.stderr.startswith("error:"), r.stderr


def test_info_away_from_the_table_builds_the_model(cli):
    """A configuration the card table does not hold (1000 classes at 32 px, a width option) is counted
    on the built model."""
    r = cli("info", "mobilenet_v1", "--opt", "width_mult=0.5", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["config"]["width_mult"] == 0.5 and 1_000_000 < info["params"] < info["card"]["reference_params"]


def test_info_layers_are_lenet5s_as_published(cli):
    """LeCun et al. 1998: C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5, F5 120, F6 84, output 10."""
    r = cli("info", "lenet5", "--layers", "--json")
    assert r.returncode == 0, r.stderr
    layers = json.loads(r.stdout)["layers"]
    convs = [(l["type"], l["output_shape"]) for l in layers if l["type"] in ("Conv2d", "MaxPool2d")]
    assert convs == [("Conv2d", [6, 28, 28]), ("MaxPool2d", [6, 14, 14]), ("Conv2d", [16, 10, 10]),
                     ("MaxPool2d", [16, 5, 5])]
    assert [l["output_shape"] for l in layers if l["type"] == "Linear"] == [[120], [84], [10]]
