using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Contracts;

namespace Pipeline.Functions.Predict;

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

public sealed class ModelSummary
{
    public string Name { get; set; } = "";

    public string Version { get; set; } = "";

    public string Task { get; set; } = "";

    public List<string> Features { get; set; } = [];

    public Dictionary<string, double> TestMetrics { get; set; } = [];
}

public sealed class ModelDetails
{
    public string Name { get; set; } = "";

    public string CurrentVersion { get; set; } = "";

    public ModelManifest? Current { get; set; }

    public List<string> Versions { get; set; } = [];
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PredictResponse))]
[JsonSerializable(typeof(List<ModelSummary>))]
[JsonSerializable(typeof(ModelDetails))]
public sealed partial class PredictJson : JsonSerializerContext;
