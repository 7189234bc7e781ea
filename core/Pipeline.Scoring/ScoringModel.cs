using Azure;
using Azure.Storage.Blobs;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Storage;

namespace Pipeline.Scoring;

/// <summary>
/// A model version as batch scoring runs it: its manifest, the <see cref="FeatureEncoder"/> of its encodings (the one the
/// serving app encodes request rows with) and one ONNX Runtime session over the served artifact, fed
/// <c>[rows, features]</c> blocks. Takes the trainer's graph contract: one float <c>[batch, features]</c> input and one
/// float output of class probabilities or the value.
/// </summary>
public sealed class ScoringModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly int _outputRank;

    private ScoringModel(InferenceSession session, ModelManifest manifest, FeatureEncoder? encoder, string inputName, string outputName, int outputRank, int outputWidth)
    {
        _session = session;
        Manifest = manifest;
        Encoder = encoder;
        _inputNames = [inputName];
        _outputNames = [outputName];
        _outputRank = outputRank;
        OutputWidth = outputWidth;
    }

    public ModelManifest Manifest { get; }

    public string Version => Manifest.Version;

    /// <summary>Encodes raw column values (models trained on encoded columns); null: the file's columns are the features, as numbers.</summary>
    public FeatureEncoder? Encoder { get; }

    public IReadOnlyList<string> Features => Manifest.Features;

    public int FeatureCount => Manifest.Features.Count;

    public bool IsClassification => Manifest.Task == TaskKind.Classification;

    public IReadOnlyList<string> Labels => Manifest.Labels;

    /// <summary>Outputs per row: classes for classification, 1 for regression.</summary>
    public int OutputWidth { get; }

    /// <summary>
    /// Loads <paramref name="version"/> of <paramref name="model"/> (null: the version <c>current.json</c> names) from
    /// container <c>models</c>. Throws <see cref="ScoringException"/> naming the problem.
    /// </summary>
    public static async Task<ScoringModel> LoadAsync(BlobContainerClient models, string model, string? version, ScoringOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(options);
        if (version is null)
        {
            var pointer = await ModelPointer.ReadAsync(models, model, cancellationToken).ConfigureAwait(false);
            version = pointer.Current?.Version;
            if (!StorageNames.IsValidVersion(version))
            {
                throw new ScoringException(ScoringFailure.UnknownModel,
                    $"There is no model '{model}' with a current version (models/{model}/current.json); upload its training data to raw/{model}/ first, or name a version: score/{model}@{{version}}/….");
            }
        }

        (ModelManifest Value, ETag ETag)? read;
        try
        {
            read = await BlobJson.ReadAsync(models.GetBlobClient(StorageNames.ModelManifestPath(model, version!)), PipelineJson.Default.ModelManifest, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ScoringException(ScoringFailure.ModelUnavailable, $"models/{model}/{version}/manifest.json is not a valid model manifest.", e);
        }

        if (read is not { } found)
        {
            throw new ScoringException(ScoringFailure.UnknownVersion,
                $"Model '{model}' has no version '{version}' that batch scoring can use (no models/{model}/{version}/manifest.json). GET /api/models/{model} lists its versions.");
        }

        var manifest = found.Value;
        var artifact = manifest.Artifact is { Length: > 0 } a ? a : StorageNames.ModelFile;
        if (artifact.Contains("..", StringComparison.Ordinal) || artifact.StartsWith('/') || artifact.Contains('\\', StringComparison.Ordinal))
        {
            throw new ScoringException(ScoringFailure.ModelUnavailable, $"manifest.json names artifact '{artifact}', which is not a file of the version folder.");
        }

        var blob = models.GetBlobClient($"{model}/{version}/{artifact}");
        byte[] onnx;
        try
        {
            var properties = await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            if (properties.Value.ContentLength > options.MaxModelBytes)
            {
                throw new ScoringException(ScoringFailure.ModelUnavailable, $"models/{model}/{version}/{artifact} is larger than Scoring:MaxModelBytes ({options.MaxModelBytes} bytes).");
            }

            onnx = (await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value.Content.ToArray();
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new ScoringException(ScoringFailure.ModelUnavailable, $"manifest.json names artifact '{artifact}', which does not exist.", e);
        }

        manifest.Model = model;
        manifest.Version = version!;
        return Create(manifest, onnx, options);
    }

    /// <summary>A session over <paramref name="onnx"/> described by <paramref name="manifest"/>, after the same check the serving app makes before ONNX Runtime reads a file.</summary>
    public static ScoringModel Create(ModelManifest manifest, byte[] onnx, ScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            OnnxModelCheck.Check(onnx, options.MaxInitializerBytes);
        }
        catch (InvalidDataException e)
        {
            throw Unavailable(manifest, e.Message, e);
        }

        if (!TaskKind.IsKnown(manifest.Task) || manifest.Features.Count == 0 || (manifest.Task == TaskKind.Classification && manifest.Labels.Count == 0))
        {
            throw Unavailable(manifest, "its manifest does not name the task, the features and (classification) the labels; batch scoring needs them.");
        }

        FeatureEncoder? encoder = null;
        if (manifest.Encodings.Count > 0)
        {
            encoder = new FeatureEncoder(manifest.Encodings);
            if (!encoder.FeatureNames.SequenceEqual(manifest.Features, StringComparer.Ordinal))
            {
                throw Unavailable(manifest, "the manifest's encodings do not produce the model's input features.");
            }
        }

        using var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        InferenceSession session;
        try
        {
            session = new InferenceSession(onnx, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw Unavailable(manifest, "ONNX Runtime cannot load the graph: " + e.Message, e);
        }

        try
        {
            var inputName = manifest.InputName is { Length: > 0 } i ? i
                : session.InputNames.Count == 1 ? session.InputNames[0]
                : throw Unavailable(manifest, "the graph has one input per feature; batch scoring takes one float [batch, features] input.");
            if (!session.InputMetadata.TryGetValue(inputName, out var input) || !IsFloat(input) || input.Dimensions.Length != 2 ||
                (input.Dimensions[1] > 0 && input.Dimensions[1] != manifest.Features.Count) || input.Dimensions[0] > 0)
            {
                throw Unavailable(manifest, $"input '{inputName}' is not a float [batch, {manifest.Features.Count}] tensor with a dynamic batch.");
            }

            var outputName = manifest.OutputName is { Length: > 0 } o ? o
                : session.OutputNames.FirstOrDefault(n => n is OnnxContract.ProbabilitiesOutput or OnnxContract.ValueOutput)
                  ?? session.OutputNames.FirstOrDefault(n => IsFloat(session.OutputMetadata[n]))
                  ?? throw Unavailable(manifest, "the graph has no float output.");
            if (!session.OutputMetadata.TryGetValue(outputName, out var output) || !IsFloat(output) || output.Dimensions.Length is not (1 or 2))
            {
                throw Unavailable(manifest, $"output '{outputName}' is not a float [batch] or [batch, outputs] tensor.");
            }

            var width = manifest.Task == TaskKind.Classification ? manifest.Labels.Count : 1;
            if (output.Dimensions.Length == 2 && output.Dimensions[1] > 0 && output.Dimensions[1] != width)
            {
                throw Unavailable(manifest, $"output '{outputName}' has {output.Dimensions[1]} values per row; {width} were expected.");
            }

            return new ScoringModel(session, manifest, encoder, inputName, outputName, output.Dimensions.Length, width);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="rows"/> rows of <see cref="FeatureCount"/> features (row-major) in one call, writing <c>rows × OutputWidth</c> values into <paramref name="output"/>.</summary>
    public void Run(float[] features, int rows, float[] output)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(output);
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, features.AsMemory(0, rows * FeatureCount), [rows, FeatureCount]);
        long[] shape = _outputRank == 2 ? [rows, OutputWidth] : [rows];
        using var result = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, output.AsMemory(0, rows * OutputWidth), shape);
        using var runOptions = new RunOptions();
        _session.Run(runOptions, _inputNames, [input], _outputNames, [result]);
    }

    public void Dispose() => _session.Dispose();

    private static bool IsFloat(NodeMetadata node) => node.IsTensor && node.ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float;

    private static ScoringException Unavailable(ModelManifest manifest, string problem, Exception? inner = null) =>
        new(ScoringFailure.ModelUnavailable, $"Model '{manifest.Model}' version '{manifest.Version}' cannot be used for batch scoring: {problem}", inner);
}
