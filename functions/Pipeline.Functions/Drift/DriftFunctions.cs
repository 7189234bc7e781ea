using System.Text.Json;
using Microsoft.Azure.Functions.Worker;
using Pipeline.Monitoring;
using Pipeline.Storage;

namespace Pipeline.Functions.Drift;

/// <summary>
/// Drift reports (<see cref="DriftJob"/>): <c>DriftRequest</c> writes one model's, from a <c>{"model":"…"}</c> message on
/// queue <c>drift-requests</c>; <c>DriftSchedule</c>, a timer, puts one such message per model on that queue, so each
/// model's report is an invocation of its own (its own time limit, retries and poison message); <c>pipeline drift
/// MODEL</c> sends one on demand.
/// </summary>
public sealed class DriftFunctions(DriftJob job)
{
    public const string ScheduleName = "DriftSchedule";
    public const string RequestName = "DriftRequest";

    /// <summary>Daily at 05:00 UTC (NCRONTAB with seconds, as the Functions host reads it).</summary>
    public const string Schedule = "0 0 5 * * *";

    [Function(ScheduleName)]
    public async Task RunScheduleAsync([TimerTrigger(Schedule)] TimerInfo timer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(timer);
        await job.RequestAllAsync(cancellationToken);
    }

    /// <remarks>A message that is not a request for a valid model name throws, so it ends in <c>drift-requests-poison</c>.</remarks>
    [Function(RequestName)]
    public async Task RunRequestAsync(
        [QueueTrigger(StorageNames.DriftRequestsQueue, Connection = StorageOptions.Section)] string message,
        CancellationToken cancellationToken)
    {
        string? model;
        try
        {
            using var document = JsonDocument.Parse(message);
            model = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("model", out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : null;
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException("The drift-requests message is not JSON {\"model\":\"…\"}.", e);
        }

        if (!StorageNames.IsValidName(model))
        {
            throw new InvalidOperationException("The drift-requests message does not name a valid model: {\"model\":\"…\"}.");
        }

        await job.RunAsync(model!, cancellationToken);
    }
}
