using System.Diagnostics;
using System.Diagnostics.Metrics;
using Pipeline.Telemetry;

namespace Pipeline.Serving.Predict;

/// <summary>
/// Spans and metrics of the serving app (source and meter <see cref="PipelineTelemetry.Serving"/>): a <c>predict</c> span
/// per predict request with the model, version and rows; a <c>model load</c> span per load; predict latency and rows,
/// model load time, session cache hits, misses and evictions (by reason).
/// </summary>
public static class ServingTelemetry
{
    public static readonly ActivitySource Source = new(PipelineTelemetry.Serving);

    private static readonly Meter Meter = new(PipelineTelemetry.Serving);

    private static readonly Histogram<double> PredictDuration = Meter.CreateHistogram<double>("pipeline.predict.duration", "s",
        "Time to answer one predict request (body read, model lease, inference, response built), by model and status code.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    private static readonly Counter<long> PredictRows = Meter.CreateCounter<long>("pipeline.predict.rows", "{row}",
        "Rows answered, by model and version.");

    private static readonly Histogram<double> LoadDuration = Meter.CreateHistogram<double>("pipeline.model.load.duration", "s",
        "Time to load one model version from storage into an ONNX Runtime session, by model and outcome.");

    private static readonly Counter<long> CacheHits = Meter.CreateCounter<long>("pipeline.model.cache.hits", "{request}",
        "Look-ups of a model version (predict, model details) that found its session in the cache.");

    private static readonly Counter<long> CacheMisses = Meter.CreateCounter<long>("pipeline.model.cache.misses", "{request}",
        "Look-ups of a model version that had to load it (or join a load in flight).");

    private static readonly Counter<long> CacheEvictions = Meter.CreateCounter<long>("pipeline.model.cache.evictions", "{session}",
        "Sessions let go, by reason: memory (the cache's budget) or replaced (a new version is served, or the model was removed).");

    /// <summary>
    /// The <c>pipeline.model</c> tag of a metric recorded for a name that is not a model this app serves (a 404, a name
    /// that is not a model name): one series for all of them, so callers cannot grow the metrics without bound.
    /// </summary>
    public const string UnknownModel = "(unknown)";

    public static Activity? StartPredict() => Source.StartActivity("predict", ActivityKind.Internal);

    /// <summary>A prediction was answered: its version and row count on the span, the rows counted.</summary>
    public static void Answered(string model, string version, int rows)
    {
        PredictRows.Add(rows, new("pipeline.model", model), new("pipeline.model.version", version));
        if (Activity.Current is { } activity && activity.Source == Source)
        {
            activity.SetTag("pipeline.model.version", version);
            activity.SetTag("pipeline.rows", rows);
        }
    }

    /// <param name="model">The model's name, or <see cref="UnknownModel"/>.</param>
    public static void PredictFinished(Activity? activity, string model, int status, double seconds)
    {
        PredictDuration.Record(seconds, new("pipeline.model", model), new("http.response.status_code", status));
        if (activity is not null)
        {
            activity.SetTag("pipeline.model", model);
            activity.SetTag("http.response.status_code", status);
            if (status >= 500)
            {
                activity.SetStatus(ActivityStatusCode.Error);
            }
        }
    }

    public static Activity? StartLoad(string model, string version)
    {
        var activity = Source.StartActivity("model load");
        activity?.SetTag("pipeline.model", model);
        activity?.SetTag("pipeline.model.version", version);
        return activity;
    }

    public static void Loaded(Activity? activity, string model, string outcome, double seconds)
    {
        LoadDuration.Record(seconds, new("pipeline.model", outcome == "not-found" ? UnknownModel : model), new("pipeline.load.outcome", outcome));
        activity?.SetTag("pipeline.load.outcome", outcome);
        if (outcome == "failed")
        {
            activity?.SetStatus(ActivityStatusCode.Error);
        }
    }

    public static void CacheHit(string model) => CacheHits.Add(1, new KeyValuePair<string, object?>("pipeline.model", model));

    public static void CacheMiss(string model) => CacheMisses.Add(1, new KeyValuePair<string, object?>("pipeline.model", model));

    public static void Evicted(string model, string reason) =>
        CacheEvictions.Add(1, new("pipeline.model", model), new("pipeline.eviction.reason", reason));
}
