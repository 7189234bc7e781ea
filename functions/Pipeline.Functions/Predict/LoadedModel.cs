using Microsoft.ML.OnnxRuntime;
using Pipeline.Contracts;

namespace Pipeline.Functions.Predict;

/// <summary>
/// One model version: its manifest and a long-lived ONNX Runtime session (<c>Run</c> is thread-safe).
/// Requests lease it; a retired version is disposed once its last lease ends.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    private readonly InferenceSession _session;
    private int _leases;
    private int _retired;
    private int _disposed;

    public LoadedModel(ModelManifest manifest, byte[] onnx, Microsoft.ML.OnnxRuntime.SessionOptions sessionOptions)
    {
        Manifest = manifest;
        _session = new InferenceSession(onnx, sessionOptions);
        if (!_session.InputMetadata.ContainsKey(manifest.InputName) || !_session.OutputMetadata.ContainsKey(manifest.OutputName))
        {
            _session.Dispose();
            throw new InvalidDataException($"Model {manifest.Model} version {manifest.Version}: the ONNX graph lacks input '{manifest.InputName}' or output '{manifest.OutputName}'.");
        }

        var outputShape = _session.OutputMetadata[manifest.OutputName].Dimensions;
        OutputWidth = outputShape.Length == 2 && outputShape[1] > 0 ? outputShape[1] : 1;
        Encoder = manifest.Encodings.Count > 0 ? new Pipeline.Datasets.FeatureEncoder(manifest.Encodings) : null;
    }

    /// <summary>Encodes predict requests' raw columns into the model's features; null for models whose rows carry the features.</summary>
    public Pipeline.Datasets.FeatureEncoder? Encoder { get; }

    public ModelManifest Manifest { get; }

    public int OutputWidth { get; }

    public bool TryLease()
    {
        Interlocked.Increment(ref _leases);
        if (Volatile.Read(ref _retired) == 0)
        {
            return true;
        }

        Release();
        return false;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _leases) == 0 && Volatile.Read(ref _retired) == 1)
        {
            DisposeSession();
        }
    }

    /// <summary>No new leases; disposed when the last one is released.</summary>
    public void Retire()
    {
        if (Interlocked.Exchange(ref _retired, 1) == 0 && Volatile.Read(ref _leases) == 0)
        {
            DisposeSession();
        }
    }

    private void DisposeSession()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _session.Dispose();
        }
    }

    /// <summary>Runs the model on <paramref name="rows"/> rows of features (row-major) and returns the output (row-major).</summary>
    public float[] Run(float[] features, int rows)
    {
        var width = Manifest.Features.Count;
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, features.AsMemory(0, rows * width), [rows, width]);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, [Manifest.InputName], [input], [Manifest.OutputName]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose() => Retire();
}
