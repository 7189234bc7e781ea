using Microsoft.ML.OnnxRuntime;

namespace Pipeline.Trainer.Training;

/// <summary>Runs an exported model in ONNX Runtime, as the predict function will.</summary>
public static class OnnxEvaluator
{
    public static float[] Run(byte[] onnx, string inputName, string outputName, float[] rowMajor, int rows, int width)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(onnx, options);
        using var input = OrtValue.CreateTensorValueFromMemory(rowMajor, [rows, width]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [input], [outputName]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
