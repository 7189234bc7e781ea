using Microsoft.ML.OnnxRuntime;

namespace Pipeline.Training;

/// <summary>Runs an exported model in ONNX Runtime, as the predict function will: one session, reused for every split.</summary>
public sealed class OnnxEvaluator : IDisposable
{
    private readonly SessionOptions _options = new() { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
    private readonly InferenceSession _session;
    private readonly string _inputName;
    private readonly string _outputName;

    public OnnxEvaluator(byte[] onnx, string inputName, string outputName)
    {
        _session = new InferenceSession(onnx, _options);
        _inputName = inputName;
        _outputName = outputName;
    }

    public float[] Run(float[] rowMajor, int rows, int width)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(rowMajor, [rows, width]);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, [_inputName], [input], [_outputName]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}
