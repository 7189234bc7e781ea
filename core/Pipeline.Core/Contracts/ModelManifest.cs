namespace Pipeline.Contracts;

/// <summary><c>models/{model}/{version}/manifest.json</c>: a published model version. Written after the model file, so a manifest means the version is complete.</summary>
public sealed class ModelManifest
{
    public string Model { get; set; } = "";

    public string Version { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public string Dataset { get; set; } = "";

    public string DatasetVersion { get; set; } = "";

    public string Task { get; set; } = "";

    public string Target { get; set; } = "";

    /// <summary>Ordered feature names: the keys a predict request's rows must have.</summary>
    public List<string> Features { get; set; } = [];

    public List<string> Labels { get; set; } = [];

    /// <summary>Artifact served, relative to the version folder.</summary>
    public string Artifact { get; set; } = Storage.StorageNames.ModelFile;

    public string InputName { get; set; } = "";

    public string OutputName { get; set; } = "";

    public Dictionary<string, double> ValidationMetrics { get; set; } = [];

    public Dictionary<string, double> TestMetrics { get; set; } = [];

    public TrainingSummary Training { get; set; } = new();
}

public sealed class TrainingSummary
{
    public string Device { get; set; } = "";

    public List<int> HiddenLayers { get; set; } = [];

    public int Epochs { get; set; }

    public int BestEpoch { get; set; }

    public int BatchSize { get; set; }

    public double LearningRate { get; set; }

    public int Seed { get; set; }

    public double Seconds { get; set; }

    /// <summary>Largest absolute difference between TorchSharp and ONNX Runtime outputs on the test split.</summary>
    public double OnnxMaxAbsDiff { get; set; }
}

/// <summary><c>models/{model}/current.json</c>: the served version. Only ever replaced with If-Match.</summary>
public sealed class CurrentPointer
{
    public string Version { get; set; } = "";

    public DateTimeOffset UpdatedAt { get; set; }
}
