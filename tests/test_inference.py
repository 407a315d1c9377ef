"""rolo.model.load_for_inference: one loader, with its checks, for evaluation, Figure 7 and the tracker."""
import pytest
import torch

from rolo import config
from rolo.errors import ConfigError, DataError
from rolo.model import ROLO, given_settings, load_for_inference, save_atomic


def _checkpoint(path, head="coord", **settings):
    model = ROLO(8, 16, head)
    extraction = {"WEIGHTS": "/far/away/yolov8n.pt", "IMG_SIZE": 640, "CONF": 0.25, "TOP_K": 10}
    save_atomic({"model": model.state_dict(), "model_info": model.describe(), "seq_len": 4,
                 "settings": {"SELECT": "confidence", **settings}, "extraction": extraction}, path)
    return model


def test_settings_follow_the_checkpoint(tmp_path):
    _checkpoint(tmp_path / "h.pth", head="heatmap", REPORT_CODE=True)
    inf = load_for_inference(tmp_path / "h.pth")
    assert inf.settings["HEAD"] == "heatmap" and inf.seq_len == 4 and inf.settings["IMG_SIZE"] == 640
    assert inf.settings["REPORT_CODE"] is True and not inf.model.training
    # The same weights file elsewhere on this machine is the same setting.
    load_for_inference(tmp_path / "h.pth", {"WEIGHTS": "yolov8n.pt", "HEAD": "heatmap", "CONF": 0.25})


@pytest.mark.parametrize("expect, message", [
    ({"HEAD": "coord"}, r"--head coord conflicts with checkpoint .*h.pth, which was trained with HEAD='heatmap'"),
    ({"IMG_SIZE": 320}, r"--img_size 320 conflicts .* IMG_SIZE=640"),
    ({"WEIGHTS": "yolov8s.pt"}, r"--weights yolov8s.pt conflicts .* WEIGHTS='/far/away/yolov8n.pt'"),
    ({"SELECT": "target"}, r"--select target conflicts .* SELECT='confidence'"),
])
def test_a_given_flag_that_conflicts_names_both_values(tmp_path, expect, message):
    _checkpoint(tmp_path / "h.pth", head="heatmap")
    with pytest.raises(ConfigError, match=message):
        load_for_inference(tmp_path / "h.pth", expect)


def test_feature_size_is_checked(tmp_path):
    _checkpoint(tmp_path / "c.pth")
    with pytest.raises(DataError, match=r"expects 8-d features, but the cache in x has 16-d"):
        load_for_inference(tmp_path / "c.pth", feature_dim=16, features_from="the cache in x")


def test_only_flags_given_on_the_command_line_are_expected():
    script = {"HEAD": "coord", "IMG_SIZE": 640, "MODE": "online"}
    assert given_settings(config.from_script(script, [])) == {}
    assert given_settings(config.from_script(script, ["--img_size", "640", "--mode", "report"])) == {"IMG_SIZE": 640}


def test_window_outputs_equal_forward_on_a_two_layer_lstm():
    torch.manual_seed(0)
    model = ROLO(8, 16).eval()
    model.lstm = torch.nn.LSTM(12, 16, num_layers=2, batch_first=True)
    x = torch.randn(9, 12)
    windows = x.unfold(0, 4, 1).transpose(1, 2)
    with torch.no_grad():
        torch.testing.assert_close(model.window_outputs(x, 4), model(windows))
