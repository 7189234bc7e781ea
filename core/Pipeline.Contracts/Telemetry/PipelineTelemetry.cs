using System.Diagnostics;

namespace Pipeline.Telemetry;

/// <summary>
/// The names of the pipeline's OpenTelemetry sources, one <see cref="ActivitySource"/> and one
/// <see cref="System.Diagnostics.Metrics.Meter"/> per component, in one place: the components create them under these
/// names and every host's exporter setup listens to <see cref="All"/>.
/// </summary>
public static class PipelineTelemetry
{
    /// <summary>The BlobCreated event handling and dataset build (core/Pipeline.Preprocessing, the functions app).</summary>
    public const string Preprocessing = "Pipeline.Preprocessing";

    /// <summary>The training job: stages, trials, export, gate, publish (training-container).</summary>
    public const string Training = "Pipeline.Training";

    /// <summary>The serving app: predict requests, model loads, the session cache.</summary>
    public const string Serving = "Pipeline.Serving";

    /// <summary>Batch scoring of one file (core/Pipeline.Scoring, in the functions app or the scoring job).</summary>
    public const string Scoring = "Pipeline.Scoring";

    public static IReadOnlyList<string> All { get; } = [Preprocessing, Training, Serving, Scoring];
}

/// <summary>
/// W3C trace context (<c>traceparent</c>, <c>tracestate</c>) carried in queue messages, so one upload is one trace from the
/// BlobCreated event to the published model across the functions app and the trainer.
/// </summary>
public static class TraceContext
{
    /// <summary>The <c>traceparent</c> header value of <paramref name="activity"/>, or null without one.</summary>
    public static string? TraceParent(Activity? activity) =>
        activity is null || activity.IdFormat != ActivityIdFormat.W3C ? null : activity.Id;

    /// <summary>The <c>tracestate</c> of <paramref name="activity"/>, or null when it has none.</summary>
    public static string? TraceState(Activity? activity) => string.IsNullOrEmpty(activity?.TraceStateString) ? null : activity.TraceStateString;

    /// <summary>The trace id of <paramref name="activity"/> as 32 lower-case hex digits, or null without one.</summary>
    public static string? TraceId(Activity? activity) =>
        activity is null || activity.IdFormat != ActivityIdFormat.W3C ? null : activity.TraceId.ToHexString();

    /// <summary>
    /// The remote parent a message's trace context names; <c>default</c> when it is absent or malformed (a message written
    /// before trace context existed, or by a hand-written request): the receiver then starts a trace of its own.
    /// </summary>
    public static ActivityContext Parse(string? traceParent, string? traceState) =>
        !string.IsNullOrWhiteSpace(traceParent) && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context)
            ? context
            : default;
}
