using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Training.Onnx;
using Pipeline.Training.Onnx.Proto;
using Pipeline.Training.Onnx.Quantization;
using Pipeline.Storage;
using Pipeline.Training.Quantization;
using Pipeline.Training;
using static TorchSharp.torch;

namespace Pipeline.Tests.Trainer.Quantization;

/// <summary>The whole step on a model TorchSharp really trained: calibrate, quantize, measure in ONNX Runtime, decide.</summary>
public sealed class QuantizationStepTests
{
    private static readonly TrainingSettings Settings = new([64, 64], MaxEpochs: 40, Patience: 8, BatchSize: 64, LearningRate: 3e-3, WeightDecay: 1e-4, Seed: 7);

    private static readonly Lazy<(byte[] Onnx, float[] Train, int TrainRows, EvaluationSet Test)> Trained = new(() =>
    {
        var (manifest, train, validation, test) = Infrastructure.SyntheticData.ThreeClassDataset(1600, seed: 21);
        using var model = MlpTrainer.Train(manifest, train, validation, Settings, CPU, CancellationToken.None);
        return (OnnxMlpExporter.Export(model.Definition), MlpTrainer.ToRowMajor(train), train.RowCount,
            new EvaluationSet(MlpTrainer.ToRowMajor(test), test.RowCount, 3, test.Target, Classes: 3));
    });

    [Fact]
    public void Run_TrainedClassifier_Int8CandidatesAgreeWithFp32AndAreMeasured()
    {
        var (onnx, train, trainRows, test) = Trained.Value;

        var outcome = CreateSut().Run(onnx, OnnxContract.InputName, OnnxContract.ProbabilitiesOutput, train, trainRows, test, seed: 1, TestContext.Current.CancellationToken);

        var report = Assert.IsType<Pipeline.Contracts.QuantizationReport>(outcome.Report);
        Assert.Equal(["fp32", "int8-qdq-per-channel", "int8-qdq-per-tensor", "int8-dynamic"], report.Candidates.Select(c => c.Name));
        Assert.Equal("accuracy", report.QualityMetric);
        Assert.All(report.Candidates, c =>
        {
            Assert.Null(c.Error);
            Assert.True(c.LatencyBatch1Microseconds > 0 && c.LatencyBatch64Microseconds > c.LatencyBatch1Microseconds, $"{c.Name}: latencies {c.LatencyBatch1Microseconds} / {c.LatencyBatch64Microseconds}");
            Assert.Equal(c.Bytes, outcome.Artifacts[c.Artifact!].LongLength);
            Assert.False(string.IsNullOrEmpty(c.Verdict));
        });
        Assert.Equal(report.Candidates[0].Quality, report.Candidates[0].TestMetrics!["accuracy"]);
        Assert.True(report.Candidates[0].Quality >= 0.9, $"fp32 accuracy {report.Candidates[0].Quality}");
        foreach (var int8 in report.Candidates.Skip(1))
        {
            Assert.True(int8.Agreement >= 0.98, $"{int8.Name} agrees with fp32 on {int8.Agreement:P2} of test rows.");
            Assert.True(int8.Bytes < report.Candidates[0].Bytes * 0.6, $"{int8.Name}: {int8.Bytes} bytes vs fp32 {report.Candidates[0].Bytes}.");
        }

        Assert.Equal(QuantizationStep.ArtifactFile(report.Served), outcome.Served);
        Assert.Equal(report.Candidates.Single(c => c.Name == report.Served).TestMetrics, outcome.ServedTestMetrics);
        Assert.Equal(test.Rows * 3, outcome.ServedTestOutputs!.Length);
        Assert.Equal(outcome.ServedTestMetrics!["accuracy"], Metrics.Classification(outcome.ServedTestOutputs, test.Target, 3)["accuracy"]);
        Assert.StartsWith("served", report.Candidates.Single(c => c.Name == report.Served).Verdict, StringComparison.Ordinal);
        Assert.Equal(
            ["model.int8-dynamic.onnx", "model.int8-qdq-per-channel.onnx", "model.int8-qdq-per-tensor.onnx", StorageNames.ModelFile],
            outcome.Artifacts.Keys.Order(StringComparer.Ordinal));
        Assert.Contains(OnnxQuantizer.MetadataKey, OnnxGraph.Metadata(OnnxGraph.Load(outcome.Artifacts["model.int8-qdq-per-channel.onnx"])).Keys);
    }

    [Fact]
    public void Run_TrainSplitSmallerThanTheCalibrationSample_CalibratesOnEveryRow()
    {
        var (onnx, train, _, test) = Trained.Value;

        var outcome = CreateSut(o => o.CalibrationRows = 512).Run(onnx, OnnxContract.InputName, OnnxContract.ProbabilitiesOutput, train[..(5 * 3)], 5, test, seed: 1, TestContext.Current.CancellationToken);

        var quantized = outcome.Report!.Candidates.Single(c => c.Name == QuantizationStep.StaticCandidate(WeightGranularity.PerChannel));
        Assert.Null(quantized.Error);
        Assert.Contains("on 5 train rows", quantized.Description, StringComparison.Ordinal);
        Assert.NotNull(quantized.Agreement);
    }

    [Fact]
    public void Run_PercentileCalibrationPerTensor_BuildsAWorkingStaticCandidate()
    {
        var (onnx, train, trainRows, test) = Trained.Value;

        var outcome = CreateSut(o =>
        {
            o.Calibration = CalibrationMethod.Percentile;
            o.Percentile = 99.9;
            o.StaticGranularities = [WeightGranularity.PerTensor];
            o.Dynamic = false;
        }).Run(onnx, OnnxContract.InputName, OnnxContract.ProbabilitiesOutput, train, trainRows, test, seed: 1, TestContext.Current.CancellationToken);

        var quantized = Assert.Single(outcome.Report!.Candidates, c => c.Name == QuantizationStep.StaticCandidate(WeightGranularity.PerTensor));
        Assert.Contains("per-tensor", quantized.Description, StringComparison.Ordinal);
        Assert.Contains("99.9th percentile", quantized.Description, StringComparison.Ordinal);
        Assert.True(quantized.Agreement >= 0.98, $"agreement {quantized.Agreement:P2}");
        Assert.Equal(2, outcome.Report.Candidates.Count);
    }

    [Fact]
    public void Run_GraphTheQuantizerDoesNotUnderstand_ServesFp32WithTheReason()
    {
        var (onnx, test) = MatMulRegressionModel();

        var outcome = CreateSut().Run(onnx, "features", "value", test.RowMajor, test.Rows, test, seed: 1, TestContext.Current.CancellationToken);

        Assert.Equal(StorageNames.ModelFile, outcome.Served);
        var report = outcome.Report!;
        Assert.Equal("fp32", report.Served);
        Assert.Contains("no Gemm", report.Reason, StringComparison.Ordinal);
        Assert.All(report.Candidates.Skip(1), c =>
        {
            Assert.Null(c.Artifact);
            Assert.Contains("no Gemm", c.Error, StringComparison.Ordinal);
        });
        Assert.Equal([StorageNames.ModelFile], outcome.Artifacts.Keys);
        Assert.Equal("r2", report.QualityMetric);
        Assert.True(report.Candidates[0].Quality > 0.99, $"fp32 r2 {report.Candidates[0].Quality}");
    }

    [Fact]
    public void Run_MeasurementFails_ServesFp32UnmeasuredAndSaysWhy()
    {
        var (onnx, train, trainRows, test) = Trained.Value;
        var wrongShape = test with { Classes = 2 }; // the model has 3 outputs: ONNX Runtime rejects the bound output buffer

        var outcome = CreateSut().Run(onnx, OnnxContract.InputName, OnnxContract.ProbabilitiesOutput, train, trainRows, wrongShape, seed: 1, TestContext.Current.CancellationToken);

        Assert.Equal(StorageNames.ModelFile, outcome.Served);
        Assert.Same(onnx, Assert.Single(outcome.Artifacts).Value);
        Assert.StartsWith("fp32 served unmeasured", outcome.Report!.Reason, StringComparison.Ordinal);
        Assert.All(outcome.Report.Candidates.Skip(1), c => Assert.Equal("not measured", c.Verdict));
    }

    [Fact]
    public void Run_Disabled_PublishesOnlyFp32WithoutMeasuring()
    {
        var (onnx, train, trainRows, test) = Trained.Value;

        var outcome = CreateSut(o => o.Enabled = false).Run(onnx, OnnxContract.InputName, OnnxContract.ProbabilitiesOutput, train, trainRows, test, seed: 1, TestContext.Current.CancellationToken);

        Assert.Equal(StorageNames.ModelFile, outcome.Served);
        Assert.Null(outcome.Report);
        Assert.Null(outcome.ServedTestMetrics);
        Assert.Null(outcome.ServedTestOutputs);
        Assert.Same(onnx, Assert.Single(outcome.Artifacts).Value);
    }

    private static QuantizationStep CreateSut(Action<QuantizationOptions>? configure = null)
    {
        var options = new QuantizationOptions { WarmupRuns = 10, LatencySamples = 20, RunsPerSample = 4 };
        configure?.Invoke(options);
        return new QuantizationStep(Options.Create(options), NullLogger<QuantizationStep>.Instance);
    }

    /// <summary>A model from elsewhere: <c>value = features · w</c> as a MatMul, with test rows it fits exactly.</summary>
    private static (byte[] Onnx, EvaluationSet Test) MatMulRegressionModel()
    {
        float[] w = [0.5f, -2f, 1f];
        var floatMatrix = new TypeProto
        {
            TensorType = new TypeProto.Types.Tensor
            {
                ElemType = (int)TensorProto.Types.DataType.Float,
                Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimParam = "batch" }, new TensorShapeProto.Types.Dimension { DimValue = 3 } } },
            },
        };
        var graph = new GraphProto { Name = "byo" };
        graph.Input.Add(new ValueInfoProto { Name = "features", Type = floatMatrix });
        graph.Output.Add(new ValueInfoProto { Name = "value", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        var weight = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 3, 1 } };
        weight.FloatData.AddRange(w);
        graph.Initializer.Add(weight);
        graph.Node.Add(new NodeProto { OpType = "MatMul", Name = "matmul", Input = { "features", "w" }, Output = { "value" } });
        var model = new ModelProto { IrVersion = 8, Graph = graph, OpsetImport = { new OperatorSetIdProto { Domain = "", Version = 17 } } };

        var random = new Random(3);
        var rows = Enumerable.Range(0, 3 * 100).Select(_ => (float)random.NextDouble() * 10).ToArray();
        var target = Enumerable.Range(0, 100).Select(r => (rows[r * 3] * w[0]) + (rows[(r * 3) + 1] * w[1]) + (rows[(r * 3) + 2] * w[2])).ToArray();
        return (model.ToByteArray(), new EvaluationSet(rows, 100, 3, target, Classes: 0));
    }
}
