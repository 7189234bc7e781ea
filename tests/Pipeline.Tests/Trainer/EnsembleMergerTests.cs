using Pipeline.Trainer.Training;
using static TorchSharp.torch;

namespace Pipeline.Tests.Trainer;

[Collection(TorchDeterminism.Name)]
public class EnsembleMergerTests
{
    [Theory]
    [InlineData(new int[0])]
    [InlineData(new[] { 8 })]
    [InlineData(new[] { 8, 6, 4 })]
    public void Merge_ThreeNetworks_ComputesTheMeanOfTheirOutputs(int[] hidden)
    {
        const int Inputs = 5, Outputs = 3, Rows = 50;
        random.manual_seed(11);
        var members = Enumerable.Range(0, 3).Select(_ => new Mlp(Inputs, hidden, Outputs)).ToList();
        using var x = randn(Rows, Inputs);

        var merged = EnsembleMerger.Merge([.. members.Select(TrialTrainer.Snapshot)], Inputs, hidden, Outputs);
        using var wide = new Mlp(Inputs, [.. hidden.Select(h => h * 3)], Outputs);
        TrialTrainer.Restore(wide, merged);

        using var noGrad = no_grad();
        var expected = members.Select(m => m.forward(x).data<float>().ToArray()).Aggregate((a, b) => [.. a.Zip(b, (p, q) => p + q)]).Select(v => v / 3).ToArray();
        var actual = wide.forward(x).data<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        Assert.All(expected.Zip(actual), pair => Assert.Equal(pair.First, pair.Second, 1e-5f));
        members.ForEach(m => m.Dispose());
    }
}
