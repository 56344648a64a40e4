"""A TF.js graph translated node by node into ONNX, to run the graph as it is, apart from any PyTorch module.

    python -m training.tfjs_onnx ../shared/pretrained/hse-faceres-deep/faceres-deep.json out.onnx

This is the independent run that training.faceres's module is checked against: it follows the graph's own
node list (ops, strides, "SAME" padding as ONNX's SAME_UPPER, the folded batch-norm constants) and shares
no code with the module. It covers the ops the FaceRes graph uses, and refuses any other.
"""
from __future__ import annotations

import argparse
import base64
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from training.tfjs_weights import TfjsGraph, read_graph

_ELEMENTWISE = {"Relu": "Relu", "Minimum": "Min", "Maximum": "Max", "Mul": "Mul", "Add": "Add",
                "Sigmoid": "Sigmoid"}


def _strides(node: dict) -> list[int]:
    strides = [int(s) for s in node["attr"]["strides"]["list"]["i"]]  # NHWC
    return strides[1:3]


def _fused_ops(node: dict) -> list[str]:
    return [base64.b64decode(s).decode() for s in node["attr"].get("fused_ops", {}).get("list", {}).get("s", [])]


def to_onnx(graph: TfjsGraph, input_size: int) -> onnx.ModelProto:
    """The graph as ONNX: input `input_1` NHWC float32 (as the graph takes it), its signature's outputs."""
    nodes, initializers = [], []
    rank4 = set()  # names of NCHW tensors: a 1-D constant combined with one is reshaped to (C, 1, 1)

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    nodes.append(helper.make_node("Transpose", ["input_1"], ["input_1/nchw"], perm=[0, 3, 1, 2]))
    renamed = {"input_1": "input_1/nchw"}
    rank4.add("input_1/nchw")
    for node in graph.nodes:
        op, name = node["op"], node["name"]
        inputs = [renamed.get(i, i) for i in node.get("input", [])]
        if op in ("Const", "Placeholder"):
            continue
        if op in ("Conv2D", "DepthwiseConv2dNative"):
            if base64.b64decode(node["attr"]["padding"]["s"]).decode() != "SAME":
                raise ValueError(f"{name}: only SAME padding is translated")
            kernel = graph.weights[node["input"][1]]
            if op == "Conv2D":
                weight, groups = kernel.transpose(3, 2, 0, 1), 1
            else:
                weight, groups = kernel.transpose(2, 3, 0, 1), kernel.shape[2]
            nodes.append(helper.make_node("Conv", [inputs[0], const(name + "/W", weight)], [name],
                                          strides=_strides(node), auto_pad="SAME_UPPER", group=groups,
                                          kernel_shape=list(kernel.shape[:2])))
            rank4.add(name)
        elif op in _ELEMENTWISE:
            operands = []
            for original, given in zip(node["input"], inputs):
                value = graph.weights.get(original)
                if value is not None and value.ndim == 1 and any(i in rank4 for i in inputs):
                    operands.append(const(f"{name}/{original}", value.reshape(-1, 1, 1)))
                elif value is not None:
                    operands.append(const(f"{name}/{original}", value))
                else:
                    operands.append(given)
            nodes.append(helper.make_node(_ELEMENTWISE[op], operands, [name]))
            if any(i in rank4 for i in inputs):
                rank4.add(name)
        elif op == "Mean":
            axes = graph.weights[node["input"][1]].tolist()
            if sorted(axes) != [1, 2]:
                raise ValueError(f"{name}: only the spatial mean is translated")
            keep = int(node["attr"].get("keep_dims", {}).get("b", False))
            nodes.append(helper.make_node("ReduceMean", [inputs[0], const(name + "/axes", np.array([2, 3]))],
                                          [name], keepdims=keep))
        elif op == "_FusedMatMul":
            fused = _fused_ops(node)
            if fused not in (["BiasAdd"], ["BiasAdd", "Relu"]):
                raise ValueError(f"{name}: fused ops {fused} are not translated")
            kernel, bias = graph.weights[node["input"][1]], graph.weights[node["input"][2]]
            out = name if fused == ["BiasAdd"] else name + "/linear"
            nodes.append(helper.make_node("Gemm", [inputs[0], const(name + "/W", kernel), const(name + "/b", bias)],
                                          [out]))
            if fused[-1] == "Relu":
                nodes.append(helper.make_node("Relu", [out], [name]))
        elif op == "Softmax":
            nodes.append(helper.make_node("Softmax", inputs, [name], axis=-1))
        else:
            raise ValueError(f"{name}: op {op} is not translated")
    inputs = [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["N", input_size, input_size, 3])]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", None]) for name in graph.outputs]
    model = helper.make_model(helper.make_graph(nodes, "tfjs", inputs, outputs, initializers),
                              opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("graph", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    onnx.save(to_onnx(read_graph(args.graph), args.size), args.out)


if __name__ == "__main__":
    main()
