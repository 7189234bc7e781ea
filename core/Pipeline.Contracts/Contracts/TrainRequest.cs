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

    /// <summary>Search budget: most trials to run.</summary>
    public int? MaxTrials { get; set; }

    /// <summary>Search budget: wall-clock seconds of training across attempts.</summary>
    public double? MaxSeconds { get; set; }

    /// <summary>
    /// Publish as current even if the current model scores better on this version's test split, or cannot be compared
    /// with it. Only an operator sets it, by queuing a request; preprocessing never does.
    /// </summary>
    public bool? ForcePromotion { get; set; }

    /// <summary>Id of the run (status at <c>runs/{runId}/status.json</c>); default: derived from the request, so every attempt of a message shares it.</summary>
    public string? RunId { get; set; }

    /// <summary>
    /// W3C <c>traceparent</c> of the preprocessing that requested the training: the trainer continues that trace. Absent
    /// in requests written by hand or before trace context existed; the trainer then starts a trace of its own.
    /// </summary>
    public string? TraceParent { get; set; }

    /// <summary>W3C <c>tracestate</c> that goes with <see cref="TraceParent"/>.</summary>
    public string? TraceState { get; set; }
}
