namespace Pipeline.Tests.Trainer;

/// <summary>
/// Tests that compare weights bit for bit. libtorch's random generator and thread count are process-wide (a job sets
/// <c>torch.set_num_threads</c>), so these run on their own, not alongside other tests that train.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchDeterminism
{
    public const string Name = "torch determinism";
}
