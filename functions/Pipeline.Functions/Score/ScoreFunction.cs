using Microsoft.Azure.Functions.Worker;
using Pipeline.Contracts;
using Pipeline.Scoring;
using Pipeline.Storage;

namespace Pipeline.Functions.Score;

/// <summary>
/// <c>Score</c>: one Event Grid <c>BlobCreated</c> event from queue <c>score-requests</c> (Event Grid's subscription for
/// container <c>score</c> in Azure, the Event Grid stand-in locally) becomes <c>predictions/…</c> and its report. A file
/// above <c>Scoring:MaxFileBytes</c> is handed to the scoring job instead (queue <c>score-jobs</c>, a
/// <c>handed-to-job</c> report); above <c>Scoring:MaxJobFileBytes</c> it gets a <c>too-large</c> report.
/// </summary>
/// <remarks>
/// A file that cannot be scored completes the message: its report explains it. A message that is not a BlobCreated
/// event, and storage failures, throw, so the host retries the message and then moves it to <c>score-requests-poison</c>.
/// </remarks>
public sealed class ScoreFunction(ScoreHandler handler)
{
    public const string Name = "Score";

    [Function(Name)]
    public async Task RunAsync(
        [QueueTrigger(StorageNames.ScoreRequestsQueue, Connection = StorageOptions.Section)] string message,
        CancellationToken cancellationToken)
    {
        var blobEvent = BlobEventMessage.Decode(message)
            ?? throw new InvalidOperationException("The score-requests message is not an Event Grid Microsoft.Storage.BlobCreated event.");
        await handler.HandleAsync(blobEvent, cancellationToken);
    }
}
