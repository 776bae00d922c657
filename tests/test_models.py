import pytest
import torch

from mnist_exp.core.errors import UserError
from mnist_exp.core.models import ACTIVATIONS, MLP, LeNet5


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_lenet_shapes_and_size() -> None:
    net = LeNet5()
    x = torch.randn(3, 1, 32, 32)
    assert net(x).shape == (3, 10)
    assert net.feature_map(x).shape == (3, 16, 10, 10)
    assert (net.feature_map(x) >= 0).all()  # after ReLU
    assert n_params(net) == 61_706


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_mlp_shapes_and_size(activation: str) -> None:
    net = MLP(activation=activation)
    assert net(torch.randn(4, 1, 32, 32)).shape == (4, 10)
    assert n_params(net) == 310_510


def test_mlp_activation_is_used() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 1, 32, 32)
    relu, ident = MLP(activation="relu"), MLP(activation="identity")
    ident.load_state_dict(relu.state_dict())
    assert not torch.allclose(relu(x), ident(x))


def test_mlp_rejects_wrong_input_size() -> None:
    with pytest.raises(UserError, match="1024 inputs"):
        MLP()(torch.randn(2, 1, 28, 28))
