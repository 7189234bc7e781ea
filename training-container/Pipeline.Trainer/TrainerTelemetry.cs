using System.Diagnostics;
using System.Diagnostics.Metrics;
using Pipeline.Contracts;
using Pipeline.Telemetry;
using Pipeline.Training;

namespace Pipeline.Trainer;

/// <summary>
/// Spans and metrics of the trainer (source and meter <see cref="PipelineTelemetry.Training"/>): a <c>train</c> span per
/// training request, continuing the trace its message carries, with one span per stage (<c>train load</c>,
/// <c>train search</c> and a <c>train trial</c> per trial under it, <c>train export</c>, <c>train quantize</c>,
/// <c>train gate</c>, <c>train report</c>, <c>train publish</c>, …); training duration, GPU seconds, trials, queue depth.
/// </summary>
public static class TrainerTelemetry
{
    public static readonly ActivitySource Source = new(PipelineTelemetry.Training);

    private static readonly Meter Meter = new(PipelineTelemetry.Training);

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("pipeline.training.duration", "s",
        "Wall-clock time of one training job, by final run state.");

    private static readonly Counter<double> GpuSeconds = Meter.CreateCounter<double>("pipeline.training.gpu_seconds", "s",
        "Seconds of training on a GPU (network trials and refits on CUDA), by model.");

    private static readonly Counter<long> Trials = Meter.CreateCounter<long>("pipeline.training.trials", "{trial}",
        "Search trials run, by model family.");

    private static long _queueDepth = -1;

    private static readonly ObservableGauge<long> QueueDepth = Meter.CreateObservableGauge("pipeline.queue.depth",
        () => Interlocked.Read(ref _queueDepth) is var depth and >= 0
            ? [new Measurement<long>(depth, new KeyValuePair<string, object?>("messaging.destination.name", Storage.StorageNames.TrainRequestsQueue))]
            : Array.Empty<Measurement<long>>(),
        "{message}", "Approximate number of training requests waiting, as the trainer last saw it on receiving one.");

    /// <summary>The job's span: a child of the producer span named by the request's trace context, else a trace of its own.</summary>
    public static Activity? StartJob(TrainRequest request, string runId, string model)
    {
        var activity = Source.StartActivity("train", ActivityKind.Consumer, TraceContext.Parse(request.TraceParent, request.TraceState));
        activity?.SetTag("pipeline.run_id", runId);
        activity?.SetTag("pipeline.dataset", request.Dataset);
        activity?.SetTag("pipeline.dataset_version", request.DatasetVersion);
        activity?.SetTag("pipeline.model", model);
        return activity;
    }

    public static void JobFinished(Activity? activity, string state, double seconds, Exception? exception = null)
    {
        Duration.Record(seconds, new KeyValuePair<string, object?>("pipeline.run.state", state));
        activity?.SetTag("pipeline.run.state", state);
        if (exception is not null)
        {
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity?.AddException(exception);
        }
    }

    public static void GpuUsed(string model, double seconds)
    {
        if (seconds > 0)
        {
            GpuSeconds.Add(seconds, new KeyValuePair<string, object?>("pipeline.model", model));
        }
    }

    public static void QueueDepthSeen(int approximateCount) => Interlocked.Exchange(ref _queueDepth, approximateCount);

    /// <summary>
    /// The stage spans of one job, one after another: <see cref="Enter"/> ends the running stage and starts the next as
    /// the current activity, so the Azure SDK's spans and the logs of a stage fall under it.
    /// </summary>
    public sealed class Stages : IDisposable
    {
        private Activity? _stage;
        private Activity? _trial;
        private int _trialIndex;
        private DateTime _trialStart;

        public Activity? Current => _stage;

        public void Enter(string name)
        {
            End();
            _stage = Source.StartActivity("train " + name);
        }

        /// <summary>
        /// Follows the search's progress reports: a <c>train trial</c> span per trial, under the search stage. A trial
        /// starts where the previous one ended (the first where the search began) and ends when the next reports or the
        /// search ends: its bounds are as fine as the reports (one per epoch or boosting round).
        /// </summary>
        public void OnProgress(SearchProgress progress)
        {
            if (progress.Trial == _trialIndex && _trial is not null)
            {
                _trial.SetTag("pipeline.trial.epochs", progress.Epoch);
                _trial.SetTag("pipeline.trial.best_validation_loss", progress.BestValidationLoss);
                return;
            }

            var start = _trial is null ? _stage?.StartTimeUtc ?? DateTime.UtcNow : DateTime.UtcNow;
            EndTrial();
            _trialIndex = progress.Trial;
            _trialStart = start;
            _trial = Source.StartActivity("train trial", ActivityKind.Internal, _stage?.Context ?? default, startTime: start);
            if (_trial is not null)
            {
                _trial.SetTag("pipeline.trial", progress.Trial);
                _trial.SetTag("pipeline.trial.family", progress.Parameters.Family.ToString());
                _trial.SetTag("pipeline.trial.parameters", progress.Parameters.ToString());
                _trial.SetTag("pipeline.trial.epochs", progress.Epoch);
            }

            Trials.Add(1, new KeyValuePair<string, object?>("pipeline.trial.family", progress.Parameters.Family.ToString()));
        }

        /// <summary>Ends the last trial's span (the search is over).</summary>
        public void EndTrial()
        {
            if (_trial is null)
            {
                return;
            }

            var previous = Activity.Current;
            _trial.SetEndTime(DateTime.UtcNow > _trialStart ? DateTime.UtcNow : _trialStart);
            _trial.Stop();
            Activity.Current = previous == _trial ? _stage : previous;
            _trial = null;
        }

        private void End()
        {
            EndTrial();
            _stage?.Stop();
            _stage = null;
        }

        public void Dispose() => End();
    }
}
