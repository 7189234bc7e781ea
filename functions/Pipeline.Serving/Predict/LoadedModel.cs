using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Pipeline.Contracts;
using Pipeline.Serving.Http;
using Pipeline.Storage;

namespace Pipeline.Serving.Predict;

/// <summary>
/// One model version: a long-lived ONNX Runtime session (<c>Run</c> is thread-safe) and how to feed it, taken from
/// <c>manifest.json</c> where there is one and from the ONNX graph otherwise (bring-your-own models).
/// Requests lease it; a retired version is disposed once its last lease ends.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    /// <summary>Names given to the columns of a single <c>[batch, n]</c> input when neither a manifest nor the graph's metadata names them: f0, f1, …</summary>
    public const string DefaultFeaturePrefix = "f";

    private readonly InferenceSession _session;
    private string[] _inputNames = [];
    private bool _columns;
    private bool _columnUnitDimension;
    private string[] _outputNames = [];
    private int _outputRank;
    private int _maxBatch = int.MaxValue;
    private Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _featureLookup;
    private int _leases;
    private int _retired;
    private int _disposed;
    private long _requests;
    private long _rows;

    /// <summary>Last lease, as a <see cref="TimeProvider.GetTimestamp"/> value: the LRU order of the cache.</summary>
    internal long LastUsed;

    private LoadedModel(InferenceSession session) => _session = session;

    /// <summary>The effective manifest: the stored one completed from the graph (features, task, labels, input and output names).</summary>
    public ModelManifest Manifest { get; private set; } = new();

    public string Name => Manifest.Model;

    public string Version => Manifest.Version;

    public int FeatureCount { get; private set; }

    /// <summary>Encodes requests' raw column values into the features (models whose manifest has encodings); null: rows carry the features as numbers.</summary>
    public Pipeline.Datasets.FeatureEncoder? Encoder { get; private set; }

    /// <summary>Raw columns a request row may carry that the model does not use (<see cref="ModelManifest.IgnoredColumns"/>, and the target).</summary>
    public HashSet<string>.AlternateLookup<ReadOnlySpan<char>> IgnoredColumns { get; private set; } = new HashSet<string>(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    public bool IsClassification { get; private set; }

    /// <summary>Outputs per row: classes for classification, 1 for regression.</summary>
    public int OutputWidth { get; private set; }

    /// <summary>Labels pre-encoded for the response writer.</summary>
    public JsonEncodedText[] EncodedLabels { get; private set; } = [];

    /// <summary>Where the serving contract came from: <c>manifest</c>, or <c>onnx</c> when the version has no manifest.</summary>
    public string Source { get; private set; } = "manifest";

    /// <summary>Size of the ONNX file: the cache's memory estimate for this session.</summary>
    public long SizeBytes { get; private set; }

    public DateTimeOffset LoadedAt { get; private set; }

    public long Requests => Interlocked.Read(ref _requests);

    public long Rows => Interlocked.Read(ref _rows);

    /// <summary>The index of feature <paramref name="name"/>, or -1.</summary>
    public int FeatureIndex(ReadOnlySpan<char> name) => _featureLookup.TryGetValue(name, out var index) ? index : -1;

    /// <summary>
    /// Creates the session, works out the serving contract and runs a smoke prediction (one row of zeros must give
    /// finite outputs of the expected width, within <paramref name="smokeTimeout"/>, default 5 s, after which the run is
    /// terminated). Throws <see cref="ModelUnavailableException"/> naming the problem.
    /// </summary>
    public static LoadedModel Load(
        string name, string version, ModelManifest? manifest, byte[] onnx, Microsoft.ML.OnnxRuntime.SessionOptions options, DateTimeOffset now,
        TimeSpan? smokeTimeout = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        InferenceSession session;
        try
        {
            session = new InferenceSession(onnx, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelUnavailableException(name, version, "ONNX Runtime cannot load the graph: " + ProblemText.Sanitize(e.Message), e);
        }

        var model = new LoadedModel(session) { SizeBytes = onnx.LongLength, LoadedAt = now };
        try
        {
            model.Describe(name, version, manifest, smokeTimeout ?? TimeSpan.FromSeconds(5), time ?? TimeProvider.System);
            return model;
        }
        catch (Exception e) when (e is InvalidDataException or OnnxRuntimeException or JsonException)
        {
            session.Dispose();
            throw new ModelUnavailableException(name, version, ProblemText.Sanitize(e.Message), e);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private void Describe(string name, string version, ModelManifest? manifest, TimeSpan smokeTimeout, TimeProvider time)
    {
        var metadata = _session.ModelMetadata.CustomMetadataMap;
        var inputs = _session.InputNames;

        // Inputs: one [batch, n] float matrix, or one float column per feature.
        List<string> features;
        if (!string.IsNullOrEmpty(manifest?.InputName) || inputs.Count == 1)
        {
            var inputName = string.IsNullOrEmpty(manifest?.InputName) ? inputs[0] : manifest.InputName;
            if (!_session.InputMetadata.TryGetValue(inputName, out var input))
            {
                throw new InvalidDataException($"the graph has no input '{inputName}' (manifest inputName); its inputs are {string.Join(", ", inputs)}.");
            }

            RequireFloatTensor(input, "input", inputName);
            var dims = input.Dimensions;
            if (dims.Length != 2)
            {
                throw new InvalidDataException($"input '{inputName}' has {dims.Length} dimension(s); a [batch, features] float input is required.");
            }

            features = FeatureNames(manifest, metadata, dims[1], inputName);
            _inputNames = [inputName];
            _maxBatch = BatchLimit(dims[0], inputName);
        }
        else
        {
            foreach (var inputName in inputs)
            {
                var input = _session.InputMetadata[inputName];
                RequireFloatTensor(input, "input", inputName);
                var dims = input.Dimensions;
                if (dims.Length is not (1 or 2) || (dims.Length == 2 && dims[1] != 1))
                {
                    throw new InvalidDataException($"input '{inputName}' must be [batch] or [batch, 1] when the graph has one input per feature.");
                }

                _columnUnitDimension = dims.Length == 2;
                _maxBatch = Math.Min(_maxBatch, BatchLimit(dims[0], inputName));
            }

            features = [.. inputs];
            _inputNames = [.. inputs];
            _columns = true;
        }

        FeatureCount = features.Count;
        var index = new Dictionary<string, int>(features.Count, StringComparer.Ordinal);
        for (var i = 0; i < features.Count; i++)
        {
            if (!index.TryAdd(features[i], i))
            {
                throw new InvalidDataException($"feature '{features[i]}' is named twice.");
            }
        }

        _featureLookup = index.GetAlternateLookup<ReadOnlySpan<char>>();

        // Models trained on encoded columns: requests carry the raw columns, encoded as in training.
        if (manifest is { Encodings.Count: > 0 })
        {
            var encoder = new Pipeline.Datasets.FeatureEncoder(manifest.Encodings);
            if (!encoder.FeatureNames.SequenceEqual(features, StringComparer.Ordinal))
            {
                throw new InvalidDataException("the manifest's encodings do not produce the model's input features.");
            }

            Encoder = encoder;
            IgnoredColumns = manifest.IgnoredColumns.Append(manifest.Target).Where(c => !string.IsNullOrEmpty(c) && encoder.ColumnIndex(c) < 0)
                .ToHashSet(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
        }

        // Output: the manifest's, else ours by name, else the first float tensor.
        var outputs = _session.OutputNames;
        var outputName = !string.IsNullOrEmpty(manifest?.OutputName)
            ? manifest.OutputName
            : outputs.FirstOrDefault(n => n is OnnxContract.ProbabilitiesOutput or OnnxContract.ValueOutput && IsFloatTensor(_session.OutputMetadata[n]))
              ?? outputs.FirstOrDefault(n => IsFloatTensor(_session.OutputMetadata[n]))
              ?? throw new InvalidDataException($"the graph has no float tensor output; its outputs are {string.Join(", ", outputs)}.");
        if (!_session.OutputMetadata.TryGetValue(outputName, out var output))
        {
            throw new InvalidDataException($"the graph has no output '{outputName}' (manifest outputName); its outputs are {string.Join(", ", outputs)}.");
        }

        RequireFloatTensor(output, "output", outputName);
        if (output.Dimensions.Length is not (1 or 2))
        {
            throw new InvalidDataException($"output '{outputName}' has {output.Dimensions.Length} dimensions; [batch] or [batch, outputs] is required.");
        }

        _outputNames = [outputName];
        _outputRank = output.Dimensions.Length;
        var width = SmokeWidth(smokeTimeout, time);

        var task = TaskKind.IsKnown(manifest?.Task) ? manifest!.Task
            : metadata.TryGetValue(OnnxContract.TaskMetadataKey, out var t) && TaskKind.IsKnown(t) ? t
            : width == 1 ? TaskKind.Regression : TaskKind.Classification;
        List<string> labels = [];
        if (task == TaskKind.Classification)
        {
            labels = manifest is { Labels.Count: > 0 } ? manifest.Labels
                : metadata.TryGetValue(OnnxContract.LabelsMetadataKey, out var json) ? ParseNames(json, "labels")
                : [.. Enumerable.Range(0, width).Select(i => i.ToString(CultureInfo.InvariantCulture))];
            if (labels.Count != width)
            {
                throw new InvalidDataException($"{labels.Count} labels are given but output '{outputName}' has {width} value(s) per row.");
            }
        }
        else if (width != 1)
        {
            throw new InvalidDataException($"a regression model must output one value per row; output '{outputName}' has {width}.");
        }

        OutputWidth = width;
        IsClassification = task == TaskKind.Classification;
        EncodedLabels = [.. labels.Select(l => JsonEncodedText.Encode(l))];
        Source = manifest is null ? "onnx" : "manifest";
        Manifest = new ModelManifest
        {
            Model = name,
            Version = version,
            CreatedAt = manifest?.CreatedAt ?? default,
            Dataset = manifest?.Dataset ?? "",
            DatasetVersion = manifest?.DatasetVersion ?? "",
            Task = task,
            Target = manifest?.Target ?? "",
            Features = features,
            Labels = labels,
            Artifact = manifest?.Artifact ?? StorageNames.ModelFile,
            InputName = _columns ? "" : _inputNames[0],
            OutputName = outputName,
            ValidationMetrics = manifest?.ValidationMetrics ?? [],
            TestMetrics = manifest?.TestMetrics ?? [],
            Training = manifest?.Training ?? new TrainingSummary(),
        };
    }

    /// <summary>
    /// Runs one row of zeros with outputs allocated by ONNX Runtime; returns the output width after checking the values
    /// are finite. A timer terminates the run after <paramref name="timeout"/> (ONNX Runtime checks between operators),
    /// so a graph built to run for ever cannot hold the loading request, or the instance's CPU, beyond it.
    /// </summary>
    private int SmokeWidth(TimeSpan timeout, TimeProvider time)
    {
        var zeros = new float[FeatureCount];
        using var runOptions = new RunOptions();
        var inputs = CreateInputs(zeros, 0, 1, null);
        var deadline = new SmokeDeadline(runOptions);
        try
        {
            IDisposableReadOnlyCollection<OrtValue> results;
            using (var timer = time.CreateTimer(static d => ((SmokeDeadline)d!).Expire(), deadline, timeout, Timeout.InfiniteTimeSpan))
            {
                try
                {
                    results = _session.Run(runOptions, _inputNames, inputs, _outputNames);
                }
                catch (OnnxRuntimeException) when (deadline.Expired)
                {
                    throw new InvalidDataException($"the smoke prediction (one row of zeros) did not finish within {timeout.TotalSeconds:0.###} s (Models:SmokeTimeout) and was stopped.");
                }
                finally
                {
                    deadline.Finish();
                }
            }

            using var _ = results;
            var result = results[0];
            var shape = result.GetTensorTypeAndShape().Shape;
            var values = result.GetTensorDataAsSpan<float>();
            var width = shape.Length == 2 ? (int)shape[1] : 1;
            if (shape.Length is not (1 or 2) || shape[0] != 1 || width < 1 || values.Length != width)
            {
                throw new InvalidDataException($"the smoke prediction (one row of zeros) returned shape [{string.Join(", ", shape)}]; [1, outputs] or [1] was expected.");
            }

            foreach (var value in values)
            {
                if (!float.IsFinite(value))
                {
                    throw new InvalidDataException("the smoke prediction (one row of zeros) returned a non-finite value.");
                }
            }

            return width;
        }
        finally
        {
            foreach (var input in inputs)
            {
                input.Dispose();
            }
        }
    }

    /// <summary>Terminates the smoke run when its timer fires, unless the run already finished (the RunOptions may be gone by then).</summary>
    private sealed class SmokeDeadline(RunOptions runOptions)
    {
        private readonly Lock _gate = new();
        private bool _finished;

        public bool Expired { get; private set; }

        public void Expire()
        {
            lock (_gate)
            {
                if (!_finished)
                {
                    Expired = true;
                    runOptions.Terminate = true;
                }
            }
        }

        public void Finish()
        {
            lock (_gate)
            {
                _finished = true;
            }
        }
    }

    /// <summary>
    /// Runs the model on <paramref name="rows"/> rows of <see cref="FeatureCount"/> features (row-major) in one
    /// <c>Run</c> (one per row only for graphs with a fixed batch of 1), writing <c>rows × OutputWidth</c> values into
    /// <paramref name="output"/>. Both buffers are the caller's (pooled): nothing is copied.
    /// </summary>
    public void Run(float[] features, int rows, float[] output, RunOptions runOptions)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(output);
        float[]? columns = _columns ? ArrayPool<float>.Shared.Rent(Math.Min(rows, _maxBatch) * FeatureCount) : null;
        try
        {
            for (var start = 0; start < rows; start += _maxBatch)
            {
                var count = Math.Min(_maxBatch, rows - start);
                var inputs = CreateInputs(features, start, count, columns);
                try
                {
                    long[] shape = _outputRank == 2 ? [count, OutputWidth] : [count];
                    using var result = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, output.AsMemory(start * OutputWidth, count * OutputWidth), shape);
                    _session.Run(runOptions, _inputNames, inputs, _outputNames, [result]);
                }
                finally
                {
                    foreach (var input in inputs)
                    {
                        input.Dispose();
                    }
                }
            }
        }
        finally
        {
            if (columns is not null)
            {
                ArrayPool<float>.Shared.Return(columns);
            }
        }

        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _rows, rows);
    }

    private OrtValue[] CreateInputs(float[] features, int start, int count, float[]? columns)
    {
        var width = FeatureCount;
        if (!_columns)
        {
            return [OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, features.AsMemory(start * width, count * width), [count, width])];
        }

        columns ??= new float[count * width];
        for (var r = 0; r < count; r++)
        {
            for (var f = 0; f < width; f++)
            {
                columns[(f * count) + r] = features[((start + r) * width) + f];
            }
        }

        var inputs = new OrtValue[width];
        for (var f = 0; f < width; f++)
        {
            long[] shape = _columnUnitDimension ? [count, 1] : [count];
            inputs[f] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, columns.AsMemory(f * count, count), shape);
        }

        return inputs;
    }

    private static List<string> FeatureNames(ModelManifest? manifest, Dictionary<string, string> metadata, long width, string inputName)
    {
        List<string>? names = manifest is { Features.Count: > 0 } ? manifest.Features
            : metadata.TryGetValue(OnnxContract.FeaturesMetadataKey, out var json) ? ParseNames(json, "features")
            : null;
        if (names is not null)
        {
            if (width > 0 && names.Count != width)
            {
                throw new InvalidDataException($"{names.Count} feature names are given but input '{inputName}' has {width} columns.");
            }

            return names;
        }

        if (width <= 0)
        {
            throw new InvalidDataException($"input '{inputName}' has no fixed number of columns; name the features in manifest.json (\"features\": [...]).");
        }

        return [.. Enumerable.Range(0, (int)width).Select(i => DefaultFeaturePrefix + i.ToString(CultureInfo.InvariantCulture))];
    }

    private static List<string> ParseNames(string json, string key)
    {
        var names = JsonSerializer.Deserialize(json, PredictJson.Default.ListString);
        if (names is null || names.Count == 0 || names.Any(string.IsNullOrEmpty))
        {
            throw new InvalidDataException($"the graph's metadata '{key}' is not a JSON array of names.");
        }

        return names;
    }

    private static int BatchLimit(long batchDimension, string inputName) => batchDimension switch
    {
        <= 0 => int.MaxValue,
        1 => 1,
        _ => throw new InvalidDataException($"input '{inputName}' has a fixed batch of {batchDimension}; a dynamic batch (or 1) is required."),
    };

    private static bool IsFloatTensor(NodeMetadata node) => node.IsTensor && node.ElementDataType == TensorElementType.Float;

    private static void RequireFloatTensor(NodeMetadata node, string kind, string name)
    {
        if (!IsFloatTensor(node))
        {
            throw new InvalidDataException($"{kind} '{name}' is {(node.IsTensor ? node.ElementDataType.ToString() : node.OnnxValueType.ToString())}; only float32 tensors are served.");
        }
    }

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

    public bool IsDisposed => Volatile.Read(ref _disposed) == 1;

    private void DisposeSession()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _session.Dispose();
        }
    }

    public void Dispose() => Retire();
}
