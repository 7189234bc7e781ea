using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Trainer.Training;

/// <summary>A multilayer perceptron: Linear layers with ReLU between them, on standardized inputs.</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Linear> _layers = new();

    public Mlp(int inputs, IReadOnlyList<int> hidden, int outputs) : base(nameof(Mlp))
    {
        var width = inputs;
        foreach (var size in hidden.Append(outputs))
        {
            _layers.Add(nn.Linear(width, size));
            width = size;
        }

        RegisterComponents();
    }

    public IReadOnlyList<Linear> Layers => [.. _layers];

    public override Tensor forward(Tensor input)
    {
        var x = input;
        for (var i = 0; i < _layers.Count; i++)
        {
            var next = _layers[i].forward(x);
            x = i < _layers.Count - 1 ? nn.functional.relu(next) : next;
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
