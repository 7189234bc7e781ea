using System.Diagnostics;
using System.Diagnostics.Metrics;
using Pipeline.Contracts;
using Pipeline.Telemetry;

namespace Pipeline.Preprocessing;

/// <summary>
/// Spans and metrics of the preprocessing component (source and meter <see cref="PipelineTelemetry.Preprocessing"/>): one
/// <c>preprocess</c> span per BlobCreated event with <c>preprocess download</c>, <c>preprocess build</c>,
/// <c>preprocess write</c> and <c>train-requests send</c> under it; rejections by reason, event handling time by result, rows accepted.
/// </summary>
public static class PreprocessingTelemetry
{
    public static readonly ActivitySource Source = new(PipelineTelemetry.Preprocessing);

    private static readonly Meter Meter = new(PipelineTelemetry.Preprocessing);

    private static readonly Counter<long> Rejections = Meter.CreateCounter<long>("pipeline.preprocess.rejections", "{file}",
        "Files or datasets rejected, by reason (the rejection report's reason).");

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("pipeline.preprocess.duration", "s",
        "Time to handle one BlobCreated event, by result.");

    private static readonly Counter<long> Rows = Meter.CreateCounter<long>("pipeline.preprocess.rows", "{row}",
        "Rows of accepted dataset versions.");

    /// <summary>
    /// Starts the span of one event: under the handling that queued it when the event is a delayed copy carrying trace
    /// context (linked to the invocation that delivered it), else under the ambient activity (the Functions host's).
    /// </summary>
    public static Activity? StartHandling(BlobCreatedEvent blobEvent)
    {
        var parent = TraceContext.Parse(blobEvent.TraceParent, null);
        var links = parent != default && Activity.Current is { } delivering ? new[] { new ActivityLink(delivering.Context) } : null;
        var activity = Source.StartActivity("preprocess", ActivityKind.Consumer, parent, links: links);
        activity?.SetTag("pipeline.event.subject", blobEvent.Subject);
        activity?.SetTag("pipeline.event.id", blobEvent.Id);
        return activity;
    }

    public static Activity? StartStage(string name, string dataset)
    {
        var activity = Source.StartActivity(name);
        activity?.SetTag("pipeline.dataset", dataset);
        return activity;
    }

    /// <summary>The producer span of the training request: the trainer's job span is its child (the message carries its context).</summary>
    public static Activity? StartTrainRequest(string dataset, string version, string model)
    {
        var activity = Source.StartActivity("train-requests send", ActivityKind.Producer);
        activity?.SetTag("messaging.system", "azure_queue");
        activity?.SetTag("messaging.destination.name", Storage.StorageNames.TrainRequestsQueue);
        activity?.SetTag("pipeline.dataset", dataset);
        activity?.SetTag("pipeline.dataset_version", version);
        activity?.SetTag("pipeline.model", model);
        return activity;
    }

    public static void Finished(Activity? activity, PreprocessOutcome outcome, double seconds)
    {
        Duration.Record(seconds, new KeyValuePair<string, object?>("pipeline.result", outcome.Result.ToString()));
        if (activity is null)
        {
            return;
        }

        activity.SetTag("pipeline.result", outcome.Result.ToString());
        if (outcome.TrainRequest is { } request)
        {
            activity.SetTag("pipeline.dataset_version", request.DatasetVersion);
            activity.SetTag("pipeline.model", request.Model);
        }
    }

    public static void Failed(Activity? activity, Exception exception)
    {
        activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity?.AddException(exception);
    }

    public static void Rejected(string reason)
    {
        Rejections.Add(1, new KeyValuePair<string, object?>("pipeline.rejection.reason", reason));
        Activity.Current?.AddEvent(new ActivityEvent("rejected", tags: new ActivityTagsCollection { ["pipeline.rejection.reason"] = reason }));
    }

    public static void Accepted(int rows) => Rows.Add(rows);
}
