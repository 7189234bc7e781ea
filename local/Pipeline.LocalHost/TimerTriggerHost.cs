using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NCrontab;
using Polly;
using Polly.Timeout;
using Pipeline.LocalHost.Rpc;

namespace Pipeline.LocalHost;

/// <summary>A function with a timer trigger and its NCRONTAB schedule (six fields, seconds first, as the Functions host reads it).</summary>
public sealed record TimerFunction(string Name, string FunctionId, string TriggerBinding, string Schedule)
{
    /// <summary><c>null</c> when the function has no timer trigger.</summary>
    public static TimerFunction? FromMetadata(RpcFunctionMetadata function)
    {
        foreach (var raw in function.RawBindings)
        {
            using var binding = JsonDocument.Parse(raw);
            string? Text(string name) =>
                binding.RootElement.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)).Value is { ValueKind: JsonValueKind.String } value
                    ? value.GetString()
                    : null;
            if (string.Equals(Text("type"), "timerTrigger", StringComparison.OrdinalIgnoreCase))
            {
                return new TimerFunction(function.Name, function.FunctionId, Text("name")!, Text("schedule")!);
            }
        }

        return null;
    }
}

/// <summary>
/// The Functions host's timer-trigger side for an isolated worker: fires each timer function at the occurrences of its
/// schedule (or of an override from <c>LocalHost:TimerSchedules:{function}</c>), one invocation at a time per function,
/// with the <c>TimerInfo</c> the host binds (<c>ScheduleStatus</c>, <c>IsPastDue</c>), within <c>functionTimeout</c>. A
/// failed invocation is logged and the next occurrence fires as usual, as in the host. Not emulated: the host's
/// singleton lock across instances and the schedule monitor that catches up on missed occurrences after a restart.
/// </summary>
public sealed partial class TimerTriggerHost(IsolatedWorkerHost worker, TimeProvider time, ILogger<TimerTriggerHost> logger, IReadOnlyDictionary<string, string>? schedules = null)
{
    private readonly ResiliencePipeline _timeout = new ResiliencePipelineBuilder { TimeProvider = time }.AddTimeout(worker.Settings.FunctionTimeout).Build();

    /// <summary>Every timer function of the worker, with its schedule after overrides.</summary>
    public IReadOnlyList<TimerFunction> Functions =>
        [.. worker.Channel.Functions.Values.Select(TimerFunction.FromMetadata).OfType<TimerFunction>()
            .Select(f => schedules is not null && schedules.TryGetValue(f.Name, out var schedule) ? f with { Schedule = schedule } : f)];

    /// <summary>
    /// Fires every timer function on its schedule until cancelled. Every schedule is read first: one that is not NCRONTAB
    /// throws <see cref="FormatException"/> here, before any timer starts, as the host refuses to start such a function.
    /// </summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        var timers = Functions.Select(f => (Function: f, Schedule: Parse(f.Schedule))).ToList();
        return Task.WhenAll(timers.Select(t => RunAsync(t.Function, t.Schedule, cancellationToken)));
    }

    private async Task RunAsync(TimerFunction function, CrontabSchedule schedule, CancellationToken cancellationToken)
    {
        DateTime? last = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow().UtcDateTime;
            var next = schedule.GetNextOccurrence(now);
            try
            {
                await Task.Delay(next - now, time, cancellationToken);
                var status = new TimerStatus(last, next, schedule.GetNextOccurrence(next));
                var failure = await InvokeAsync(function, status, cancellationToken);
                last = next;
                if (failure is null)
                {
                    LogInvoked(logger, function.Name, next);
                }
                else
                {
                    LogFailed(logger, function.Name, next, failure);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>An NCRONTAB expression: six fields (seconds first) as the host takes them, or five.</summary>
    public static CrontabSchedule Parse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var fields = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        return CrontabSchedule.TryParse(expression, new CrontabSchedule.ParseOptions { IncludingSeconds = fields == 6 })
            ?? throw new FormatException($"'{expression}' is not an NCRONTAB schedule ('{{second}} {{minute}} {{hour}} {{day}} {{month}} {{day-of-week}}').");
    }

    /// <summary>One invocation of <paramref name="function"/> as the host makes it; the failure, or null when it succeeded.</summary>
    public async Task<string?> InvokeAsync(TimerFunction function, TimerStatus status, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(status);
        var timerInfo = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["Schedule"] = new Dictionary<string, object> { ["AdjustForDST"] = true },
            ["ScheduleStatus"] = new Dictionary<string, object?> { ["Last"] = status.Last ?? DateTime.MinValue, ["Next"] = status.Next, ["LastUpdated"] = status.Next },
            ["IsPastDue"] = false,
        });
        var request = new InvocationRequest
        {
            InvocationId = Guid.NewGuid().ToString(),
            FunctionId = function.FunctionId,
            TraceContext = new RpcTraceContext { TraceParent = $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01", TraceState = "" },
            RetryContext = new RetryContext { RetryCount = 0, MaxRetryCount = 0 },
        };
        request.InputData.Add(new ParameterBinding { Name = function.TriggerBinding, Data = new TypedData { Json = timerInfo } });
        request.TriggerMetadata.Add(function.TriggerBinding, new TypedData { Json = timerInfo });

        InvocationResponse response;
        try
        {
            response = await _timeout.ExecuteAsync(async token => await worker.Channel.InvokeAsync(request, token), cancellationToken);
        }
        catch (TimeoutRejectedException)
        {
            return $"Timeout value of {worker.Settings.FunctionTimeout} exceeded by function '{function.Name}'.";
        }
        catch (WorkerUnavailableException e)
        {
            return e.Message;
        }

        return response.Result?.Status == StatusResult.Types.Status.Success ? null
            : response.Result?.Exception is { } exception ? $"{exception.Type}: {exception.Message}" : $"{response.Result?.Status}";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Executed '{Function}' (Succeeded, timer occurrence {Occurrence:O})")]
    private static partial void LogInvoked(ILogger logger, string function, DateTime occurrence);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Executed '{Function}' (Failed, timer occurrence {Occurrence:O}): {Failure}")]
    private static partial void LogFailed(ILogger logger, string function, DateTime occurrence, string failure);
}

/// <summary>The timer's schedule status as the host passes it (<c>TimerInfo.ScheduleStatus</c>).</summary>
public sealed record TimerStatus(DateTime? Last, DateTime Next, DateTime After)
{
    public static TimerStatus Now(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var now = time.GetUtcNow().UtcDateTime;
        return new TimerStatus(null, now, now);
    }
}
