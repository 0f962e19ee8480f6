#!/usr/bin/python3
"""Small ONNX files for tests/cli_import.sh, written with onnx.helper (no
torch): OUTDIR/...
  torchstyle.onnx  NCHW input 1x28x28, Conv (initializer weight) + Relu +
                   MaxPool 3/2 pad 1 + Flatten + Gemm(transB=1): the way
                   torch.onnx.export writes a graph;
  tfstyle.onnx     the same network as tf2onnx writes a Keras model: NHWC
                   input with a leading Transpose, weights from Constant
                   nodes, Reshape(0, -1), MatMul + Add; same values, so its
                   import must give the same checkpoint tensors;
  unsupported.onnx a Tanh node named 'mytanh' after the conv;
  badsize.onnx     a Conv weight whose raw_data is one float short of its dims;
  hugedims.onnx    an initializer whose dims claim 2^40 elements.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(5)
W = rng.standard_normal((4, 1, 3, 3)).astype(np.float32) * 0.3
B = rng.standard_normal(4).astype(np.float32) * 0.1
FC = rng.standard_normal((10, 4 * 14 * 14)).astype(np.float32) * 0.05
FB = rng.standard_normal(10).astype(np.float32) * 0.1


def save(name, nodes, inits, inp, opset=13):
    g = helper.make_graph(nodes, name, [inp], [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="dltrain-tests")
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


nchw = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])
body = [helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])]
save("torchstyle",
     [helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
     + body + [helper.make_node("Flatten", ["p"], ["f"], name="flat"),
               helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1)],
     [numpy_helper.from_array(W, "conv1.weight"), numpy_helper.from_array(B, "conv1.bias"),
      numpy_helper.from_array(FC, "fc.weight"), numpy_helper.from_array(FB, "fc.bias")], nchw)


def const(name, arr):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name))


save("tfstyle",
     [helper.make_node("Transpose", ["x"], ["xt"], name="to_nchw", perm=[0, 3, 1, 2]),
      const("conv1.weight", W), const("conv1.bias", B),
      helper.make_node("Conv", ["xt", "conv1.weight", "conv1.bias"], ["c"], name="conv", kernel_shape=[3, 3],
                       auto_pad="SAME_UPPER")]
     + body + [const("shape", np.array([0, -1], np.int64)),
               helper.make_node("Reshape", ["p", "shape"], ["f"], name="flat"),
               const("fc.weight", np.ascontiguousarray(FC.T)), const("fc.bias", FB),
               helper.make_node("MatMul", ["f", "fc.weight"], ["mm"], name="fc"),
               helper.make_node("Add", ["mm", "fc.bias"], ["logits"], name="fc_bias")],
     [], helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 28, 28, 1]))

save("unsupported",
     [helper.make_node("Conv", ["x", "conv1.weight"], ["c"], name="conv", kernel_shape=[3, 3]),
      helper.make_node("Tanh", ["c"], ["logits"], name="mytanh")],
     [numpy_helper.from_array(W, "conv1.weight")], nchw)

bad = numpy_helper.from_array(W, "conv1.weight")
bad.raw_data = bad.raw_data[:-4]
save("badsize", [helper.make_node("Conv", ["x", "conv1.weight"], ["logits"], name="conv", kernel_shape=[3, 3])], [bad], nchw)

huge = TensorProto(name="conv1.weight", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20], raw_data=b"\0" * 16)
save("hugedims", [helper.make_node("Conv", ["x", "conv1.weight"], ["logits"], name="conv", kernel_shape=[3, 3])], [huge], nchw)
print("wrote", OUT)
