using System.ComponentModel.DataAnnotations;

namespace Pipeline.Functions.Predict;

public sealed class ModelOptions
{
    public const string Section = "Models";

    /// <summary>How often <c>models/{name}/current.json</c> is checked (by ETag) for a new version.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan CurrentPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    [Range(1, 100_000)]
    public int MaxRows { get; set; } = 1000;

    [Range(1024, 256 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>ONNX Runtime intra-op threads per session; 1 keeps small MLPs fast and leaves cores to concurrent requests.</summary>
    [Range(1, 64)]
    public int IntraOpThreads { get; set; } = 1;
}
