// System.Numerics.Tensors also has a type named Tensor; inside the library, Tensor is always ours.
global using Tensor = ResidualLM.Tensors.Tensor;
