using System.Diagnostics;
using Pipeline.Serving.Predict;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>Loading a version: the smoke prediction runs against a deadline.</summary>
public sealed class LoadedModelTests
{
    [Fact]
    public void Load_SmokePredictionPastItsDeadline_IsTerminatedAndRefused()
    {
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1 };
        var onnx = HostileModels.Slow(multiplications: 2000); // tens of seconds of work on one row of zeros
        var clock = Stopwatch.StartNew();

        var e = Assert.Throws<ModelUnavailableException>(() =>
            LoadedModel.Load("slow", "v1", null, onnx, options, DateTimeOffset.UnixEpoch, smokeTimeout: TimeSpan.FromMilliseconds(300)));

        Assert.Contains("did not finish within 0.3 s (Models:SmokeTimeout)", e.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the load took {clock.Elapsed}");
    }
}
