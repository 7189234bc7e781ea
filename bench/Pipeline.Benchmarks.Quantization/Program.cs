using System.Globalization;
using BenchmarkDotNet.Running;
using Pipeline.Benchmarks.Quantization;
using Pipeline.Training.Quantization;

// 1. What the trainer's gate sees: size, test accuracy, agreement with fp32, interleaved median latencies, and its decision.
// 2. BenchmarkDotNet: the same artifacts and TorchSharp, batch 1 and 64 (skip with --quality-only).
var culture = CultureInfo.InvariantCulture;
Console.WriteLine("| model | artifact | bytes | test accuracy | agreement with fp32 | median µs batch 1 | median µs batch 64 |");
Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
var measureOptions = new QuantizationOptions { WarmupRuns = 200, LatencySamples = 400, RunsPerSample = 8 };
foreach (var name in ModelZoo.Shapes.Keys)
{
    var model = ModelZoo.Get(name);
    var variants = model.Variants.ToList();
    var measured = CandidateMeasurer.Measure([.. variants.Select(v => v.Value)], Pipeline.Contracts.OnnxContract.InputName,
        Pipeline.Contracts.OnnxContract.ProbabilitiesOutput, model.Test, measureOptions, CancellationToken.None);
    for (var i = 0; i < variants.Count; i++)
    {
        var m = measured[i].Measurement!;
        Console.WriteLine(string.Create(culture,
            $"| {name} ({string.Join('→', new[] { ModelZoo.Features }.Concat(ModelZoo.Shapes[name]).Append(ModelZoo.Classes))}) | {variants[i].Key} | {m.Bytes} | {m.Quality:P2} | {m.Agreement:P2} | {m.LatencyBatch1:F2} | {m.LatencyBatch64:F1} |"));
    }

    var decision = QuantizationGate.Decide(
        measured[0].Measurement!,
        [.. variants.Skip(1).Select((v, i) => new CandidateResult(v.Key, measured[i + 1].Measurement))],
        QuantizationPolicy.FastestWithinQuality,
        maxRelativeQualityLoss: 0.01,
        maxLatencyRatio: 1.0);
    Console.WriteLine($"\nGate ({name}): {decision.Reason}\n");
}

if (!args.Contains("--quality-only"))
{
    BenchmarkRunner.Run<InferenceBenchmarks>(args: [.. args.Where(a => a != "--quality-only")]);
}
