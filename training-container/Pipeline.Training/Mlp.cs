using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>
/// A multilayer perceptron: Linear layers with ReLU between them, on standardized inputs; no hidden layers is a linear model.
/// Dropout after each hidden ReLU acts only in training mode, so the exported graph (Gemm + Relu) is the same with or without it.
/// </summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Linear> _layers = new();
    private readonly double _dropout;

    public Mlp(int inputs, IReadOnlyList<int> hidden, int outputs, double dropout = 0) : base(nameof(Mlp))
    {
        var width = inputs;
        foreach (var size in hidden.Append(outputs))
        {
            _layers.Add(nn.Linear(width, size));
            width = size;
        }

        _dropout = dropout;
        RegisterComponents();
    }

    public IReadOnlyList<Linear> Layers => [.. _layers];

    public override Tensor forward(Tensor input)
    {
        var x = input;
        for (var i = 0; i < _layers.Count; i++)
        {
            var next = _layers[i].forward(x);
            if (i < _layers.Count - 1)
            {
                next = nn.functional.relu(next);
                if (_dropout > 0 && training)
                {
                    next = nn.functional.dropout(next, _dropout, training: true);
                }
            }

            x = next;
        }

        return x;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _layers.Dispose();
        }

        base.Dispose(disposing);
    }
}
