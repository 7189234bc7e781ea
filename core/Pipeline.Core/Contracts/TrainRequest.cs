namespace Pipeline.Contracts;

/// <summary>Message on queue <c>train-requests</c>: train a model from one accepted dataset version.</summary>
public sealed class TrainRequest
{
    public string Dataset { get; set; } = "";

    public string DatasetVersion { get; set; } = "";

    /// <summary>Name of the model to publish; defaults to the dataset name.</summary>
    public string Model { get; set; } = "";

    public DateTimeOffset RequestedAt { get; set; }

    /// <summary>Optional overrides (tests, operators); the trainer's configuration applies otherwise.</summary>
    public int? MaxEpochs { get; set; }

    public int? Seed { get; set; }
}
