using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Pipeline.Benchmarks.Quantization;

/// <summary>
/// One inference of a batch, as the predict function runs it: ONNX Runtime with all graph optimizations and one intra-op
/// thread, input and output buffers bound once. TorchSharp runs the same trained network (standardize → MLP → softmax),
/// one thread. Ratios are to ONNX Runtime fp32 at the same model and batch size.
/// </summary>
[Config(typeof(Config))]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet owns the lifetime: GlobalCleanup disposes.")]
public class InferenceBenchmarks
{
    private readonly Dictionary<string, (InferenceSession Session, OrtValue[] Inputs, OrtValue[] Outputs)> _sessions = [];
    private readonly string[] _inputNames = [Pipeline.Contracts.OnnxContract.InputName];
    private readonly string[] _outputNames = [Pipeline.Contracts.OnnxContract.ProbabilitiesOutput];
    private SessionOptions? _options;
    private RunOptions? _runOptions;
    private BenchModel? _model;
    private Tensor? _torchInput;
    private Tensor? _mean;
    private Tensor? _inverseStd;

    [Params("small", "wide")]
    public string Model { get; set; } = "small";

    [Params(1, 64)]
    public int Batch { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        _model = ModelZoo.Get(Model);
        _options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        _runOptions = new RunOptions();
        var rows = new float[Batch * ModelZoo.Features];
        Array.Copy(_model.Test.RowMajor, rows, rows.Length);
        foreach (var (name, bytes) in _model.Variants)
        {
            _sessions[name] = (
                new InferenceSession(bytes, _options),
                [OrtValue.CreateTensorValueFromMemory(rows, [Batch, ModelZoo.Features])],
                [OrtValue.CreateTensorValueFromMemory(new float[Batch * ModelZoo.Classes], [Batch, ModelZoo.Classes])]);
        }

        set_num_threads(1);
        _model.Trained.Module.eval();
        _torchInput = tensor(rows, [Batch, ModelZoo.Features]);
        _mean = tensor(_model.Trained.Definition.FeatureMean);
        _inverseStd = tensor(_model.Trained.Definition.FeatureStd.Select(s => 1f / Pipeline.Training.Onnx.MlpDefinition.EffectiveStd(s)).ToArray());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (session, inputs, outputs) in _sessions.Values)
        {
            inputs[0].Dispose();
            outputs[0].Dispose();
            session.Dispose();
        }

        _sessions.Clear();
        _runOptions?.Dispose();
        _options?.Dispose();
        _torchInput?.Dispose();
        _mean?.Dispose();
        _inverseStd?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "ORT fp32")]
    public void OrtFp32() => Run(ModelZoo.Fp32);

    [Benchmark(Description = "ORT int8 QDQ per-tensor")]
    public void OrtQdqPerTensor() => Run(ModelZoo.QdqPerTensor);

    [Benchmark(Description = "ORT int8 QDQ per-channel")]
    public void OrtQdqPerChannel() => Run(ModelZoo.QdqPerChannel);

    [Benchmark(Description = "ORT int8 dynamic")]
    public void OrtDynamic() => Run(ModelZoo.Dynamic);

    [Benchmark(Description = "TorchSharp fp32")]
    public float TorchSharpFp32()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var output = nn.functional.softmax(_model!.Trained.Module.forward((_torchInput! - _mean!) * _inverseStd!), 1);
        return output[0, 0].item<float>();
    }

    private void Run(string variant)
    {
        var (session, inputs, outputs) = _sessions[variant];
        session.Run(_runOptions!, _inputNames, inputs, _outputNames, outputs);
    }

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            // In process: the networks are trained once and shared by every case (and the patched libtorch loads once).
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(5).WithIterationCount(15));
            HideColumns("Error", "StdDev");
        }
    }
}
