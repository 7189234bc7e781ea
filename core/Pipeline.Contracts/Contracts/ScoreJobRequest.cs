namespace Pipeline.Contracts;

/// <summary>
/// Message on queue <c>score-jobs</c>: score one file of container <c>score</c> that is larger than the functions app
/// scores (<c>Scoring:MaxFileBytes</c>). The functions app's <c>Score</c> sends it and writes a <c>handed-to-job</c>
/// report; the scoring job (a Container Apps job execution of the trainer image, <c>Pipeline.Trainer score</c>) scores
/// the file with the same handler and replaces the report.
/// </summary>
public sealed class ScoreJobRequest
{
    /// <summary>The blob's name in container <c>score</c>: <c>{model}[@{version}]/{file}</c>.</summary>
    public string Blob { get; set; } = "";

    public string Model { get; set; } = "";

    /// <summary>The version pinned by <c>score/{model}@{version}/…</c>; null: the model's current version when the job scores it.</summary>
    public string? Version { get; set; }

    /// <summary>
    /// The ETag of the upload that was handed over: the job scores that content only. A newer upload of the same name has
    /// an event (and a route) of its own, so a request whose blob changed since is completed without scoring.
    /// </summary>
    public string ETag { get; set; } = "";

    /// <summary>The file's size in bytes when it was handed over.</summary>
    public long Bytes { get; set; }

    public DateTimeOffset RequestedAt { get; set; }

    /// <summary>W3C <c>traceparent</c> of the <c>Score</c> invocation that handed the file over: the job continues that trace.</summary>
    public string? TraceParent { get; set; }

    /// <summary>W3C <c>tracestate</c> that goes with <see cref="TraceParent"/>.</summary>
    public string? TraceState { get; set; }
}
