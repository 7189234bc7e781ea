using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Contracts;

namespace Pipeline.Serving.Predict;

/// <summary>The predict response (written by <see cref="PredictResult"/>; this type documents and deserializes it).</summary>
public sealed class PredictResponse
{
    public string Model { get; set; } = "";

    public string Version { get; set; } = "";

    public List<Prediction> Predictions { get; set; } = [];
}

/// <summary>Classification: <see cref="Label"/> and <see cref="Probabilities"/>; regression: <see cref="Value"/>.</summary>
public sealed class Prediction
{
    public string? Label { get; set; }

    public Dictionary<string, double>? Probabilities { get; set; }

    public double? Value { get; set; }
}

/// <summary>One entry of <c>GET /api/models</c>.</summary>
public sealed class ModelSummary
{
    public string Name { get; set; } = "";

    /// <summary>The version current.json names (or, without one, the newest version folder).</summary>
    public string? CurrentVersion { get; set; }

    /// <summary>The version this instance serves by default, when it has loaded the model; differs from <see cref="CurrentVersion"/> while a new version is refused.</summary>
    public string? ServedVersion { get; set; }

    public string? Task { get; set; }

    public List<string>? Features { get; set; }

    public Dictionary<string, double>? TestMetrics { get; set; }

    public int Versions { get; set; }

    public ModelProblem? Problem { get; set; }
}

/// <summary><c>GET /api/models/{name}</c>: the current manifest and every version with its metrics and serving state.</summary>
public sealed class ModelDetails
{
    public string Name { get; set; } = "";

    public string? CurrentVersion { get; set; }

    public string? ServedVersion { get; set; }

    public ModelManifest? Current { get; set; }

    public List<ModelVersionInfo> Versions { get; set; } = [];

    public ModelProblem? Problem { get; set; }

    /// <summary>The latest drift report in brief (<c>drifted</c>: it judged the current version and found drift); null when there is none.</summary>
    public Monitoring.ModelDrift? Drift { get; set; }
}

public sealed class ModelVersionInfo
{
    public string Version { get; set; } = "";

    /// <summary><c>manifest</c> (published by the trainer or with a manifest) or <c>onnx</c> (bring-your-own, contract from the graph).</summary>
    public string Source { get; set; } = "";

    public DateTimeOffset? CreatedAt { get; set; }

    public bool IsCurrent { get; set; }

    public Dictionary<string, double>? ValidationMetrics { get; set; }

    public Dictionary<string, double>? TestMetrics { get; set; }

    /// <summary>Whether this instance holds a session for the version, and what it has served with it.</summary>
    public bool Loaded { get; set; }

    public long? Requests { get; set; }

    public long? Rows { get; set; }
}

/// <summary><c>POST /api/models/{name}/current</c>: move the served version (rollback or roll forward).</summary>
public sealed class SetCurrentRequest
{
    public string? Version { get; set; }
}

public sealed class SetCurrentResponse
{
    public string Model { get; set; } = "";

    public string Version { get; set; } = "";

    public string? PreviousVersion { get; set; }
}

/// <summary><c>GET /api/health/details</c> (function key): <c>healthy</c>, or <c>degraded</c> while some model serves an older version than current.json names (or none).</summary>
public sealed class HealthReport
{
    public string Status { get; set; } = "";

    public List<ServedModel> Models { get; set; } = [];

    public long CacheBytes { get; set; }

    public int CachedVersions { get; set; }

    /// <summary>The prediction log's counters: recorded, sampled out, dropped, written.</summary>
    public Monitoring.PredictionLogCounters? Monitoring { get; set; }

    /// <summary>The latest drift report of each served model, as last read (refreshed every 10 minutes); <c>drifted</c> flags a model to look at.</summary>
    public List<Monitoring.ModelDrift> Drift { get; set; } = [];
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PredictResponse))]
[JsonSerializable(typeof(List<ModelSummary>))]
[JsonSerializable(typeof(ModelDetails))]
[JsonSerializable(typeof(SetCurrentRequest))]
[JsonSerializable(typeof(SetCurrentResponse))]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(HealthStatus))]
[JsonSerializable(typeof(List<string>))]
public sealed partial class PredictJson : JsonSerializerContext;

/// <summary>What anonymous <c>GET /api/health</c> says: <c>healthy</c> or <c>degraded</c>, nothing about the models.</summary>
public sealed class HealthStatus
{
    public string Status { get; set; } = "";
}
