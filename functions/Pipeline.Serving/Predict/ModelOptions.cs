using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Pipeline.Serving.Http;

namespace Pipeline.Serving.Predict;

/// <summary>How models are found, cached and run (section <c>Models</c>). Validated at start-up.</summary>
public sealed class ModelOptions
{
    public const string Section = "Models";

    /// <summary>
    /// A local folder to serve models from instead of the <c>models</c> container, in the same layout
    /// (<c>{model}/current.json</c>, <c>{model}/{version}/model.onnx</c>, …). Unset: blob storage (<c>Storage</c> section).
    /// </summary>
    public string? Path { get; set; }

    /// <summary>How often <c>models/{name}/current.json</c> is checked (by ETag) for a new version.</summary>
    [TimeSpanRange("00:00:00.100", "01:00:00")]
    public TimeSpan CurrentPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most rows in one predict request; all of them go to ONNX Runtime in one <c>Run</c>.</summary>
    [Range(1, 100_000)]
    public int MaxRows { get; set; } = 1000;

    /// <summary>Largest predict request body; a larger one is answered 413 without being read to the end.</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Memory budget of the session cache, in bytes, estimated as the sum of the loaded ONNX files' sizes (ONNX Runtime
    /// holds one copy of the weights per session). Least recently used versions are unloaded past it, except the versions
    /// served by default (current), which are never unloaded to make room; those alone may exceed it.
    /// </summary>
    [Range(1024L * 1024, 64L * 1024 * 1024 * 1024)]
    public long CacheMemoryBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>Largest ONNX file loaded; larger ones are refused (they would not fit a Flex Consumption instance anyway).</summary>
    [Range(1024L, 16L * 1024 * 1024 * 1024)]
    public long MaxModelBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>
    /// Most bytes the constant tensors of one ONNX file may declare (elements × element size, checked before ONNX Runtime
    /// reads the file; see <see cref="Pipeline.Contracts.OnnxModelCheck"/>).
    /// </summary>
    [Range(1024L, 16L * 1024 * 1024 * 1024)]
    public long MaxInitializerBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>
    /// Nodes a graph may have; past it the version is refused before ONNX Runtime builds a session (which ORT cannot
    /// stop once started, and whose time grows with the graph). The project's MLPs have about ten, its tree ensembles one.
    /// </summary>
    [Range(10, 10_000_000)]
    public int MaxNodes { get; set; } = Pipeline.Contracts.OnnxModelCheck.DefaultMaxNodes;

    /// <summary>Longest the smoke prediction of a version being loaded may run; then it is terminated and the version refused.</summary>
    [TimeSpanRange("00:00:00.050", "00:05:00")]
    public TimeSpan SmokeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest a predict request may take end to end (reading, loading, running); then 503 and the run is terminated.</summary>
    [TimeSpanRange("00:00:00.100", "00:10:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Most loads at once of versions a request pins with <c>?version=</c> that are not a model's current version (current
    /// versions are not limited). More answer 503 with <c>Retry-After</c>: pinned old versions cannot crowd out the CPU and
    /// memory the current ones need.
    /// </summary>
    [Range(1, 64)]
    public int ColdLoadConcurrency { get; set; } = 2;

    /// <summary>Most such loads per minute (a token bucket that refills continuously); more answer 429 with <c>Retry-After</c>.</summary>
    [Range(1, 100_000)]
    public int ColdLoadsPerMinute { get; set; } = 20;

    /// <summary>How long a version that failed to load is not tried again when a request pins it with <c>?version=</c>.</summary>
    [TimeSpanRange("00:00:00", "01:00:00")]
    public TimeSpan FailedLoadRetryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// ONNX Runtime intra-op threads per session. 1 (the default) runs each request on the request's own thread with no
    /// thread-pool handoff: on the 1–2 vCPU of a Flex Consumption instance, concurrency across requests beats
    /// parallelism inside one small model. Raise it for large models with few concurrent requests.
    /// </summary>
    [Range(1, 64)]
    public int IntraOpThreads { get; set; } = 1;
}

/// <summary>Validates <see cref="ModelOptions"/> from its DataAnnotations, generated at compile time (no reflection).</summary>
[OptionsValidator]
public sealed partial class ModelOptionsValidator : IValidateOptions<ModelOptions>;
