using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Contracts;

namespace Pipeline.Serving.Datasets;

/// <summary>One entry of <c>GET /api/datasets</c>.</summary>
public sealed class DatasetSummary
{
    public string Name { get; set; } = "";

    /// <summary>Accepted versions (folders with a <c>manifest.json</c>).</summary>
    public int Versions { get; set; }

    public string? LatestVersion { get; set; }

    public DateTimeOffset? LatestVersionAt { get; set; }

    public int Rejections { get; set; }

    public DateTimeOffset? LatestRejectionAt { get; set; }

    /// <summary>A build is scheduled (<c>pending.json</c>: uploads are settling).</summary>
    public bool Pending { get; set; }
}

/// <summary><c>GET /api/datasets/{name}</c>: the newest versions and rejections of a dataset, summarized.</summary>
public sealed class DatasetDetails
{
    public string Name { get; set; } = "";

    public bool Pending { get; set; }

    public List<DatasetVersionSummary> Versions { get; set; } = [];

    public List<RejectionSummary> Rejections { get; set; } = [];

    /// <summary>Versions and rejections that exist beyond the newest ones listed.</summary>
    public int OmittedVersions { get; set; }

    public int OmittedRejections { get; set; }
}

public sealed class DatasetVersionSummary
{
    public string Version { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public string Task { get; set; } = "";

    public string Target { get; set; } = "";

    public string Model { get; set; } = "";

    public int Features { get; set; }

    public RowCounts Rows { get; set; } = new();

    public int Warnings { get; set; }

    public List<string> Sources { get; set; } = [];
}

public sealed class RejectionSummary
{
    /// <summary>The report's name under <c>rejections/</c>, without <c>.json</c>: <c>GET /api/datasets/{name}/rejections/{id}</c>.</summary>
    public string Id { get; set; } = "";

    public string Blob { get; set; } = "";

    public DateTimeOffset RejectedAt { get; set; }

    public string Reason { get; set; } = "";

    public string Message { get; set; } = "";

    public int? Line { get; set; }
}

/// <summary><c>GET /api/datasets/{name}/versions/{version}</c>: the manifest and the validation report of an accepted version.</summary>
public sealed class DatasetVersionDetails
{
    public DatasetManifest Manifest { get; set; } = new();

    /// <summary>Null for versions written before validation reports existed.</summary>
    public ValidationReport? Report { get; set; }

    /// <summary>
    /// The stages from upload to served, oldest first: uploaded, preprocessed, then the training run's stages (from its
    /// status document) up to done, and promoted when the version became current. Stages whose time was not recorded
    /// (older manifests and runs) are left out.
    /// </summary>
    public List<TimelineEntry> Timeline { get; set; } = [];
}

public sealed class TimelineEntry
{
    public string Stage { get; set; } = "";

    public DateTimeOffset At { get; set; }

    public string? Detail { get; set; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<DatasetSummary>))]
[JsonSerializable(typeof(DatasetDetails))]
[JsonSerializable(typeof(DatasetVersionDetails))]
[JsonSerializable(typeof(RejectionReport))]
public sealed partial class DatasetsJson : JsonSerializerContext;
