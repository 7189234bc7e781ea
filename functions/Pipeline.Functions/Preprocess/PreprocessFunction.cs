using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Preprocessing;
using Pipeline.Storage;

namespace Pipeline.Functions.Preprocess;

/// <summary>
/// <c>Preprocess</c>: one Event Grid <c>BlobCreated</c> event from queue <c>blob-created</c> (Event Grid's storage-queue
/// destination in Azure, the Event Grid stand-in locally) becomes a dataset version or a rejection report; an accepted
/// version's training request goes to queue <c>train-requests</c>.
/// </summary>
/// <remarks>
/// A rejected upload, or a build that fails unexpectedly, completes the message: its report explains it. A message that
/// is not a BlobCreated event, and storage failures, throw, so the host retries the message and then moves it to
/// <c>blob-created-poison</c> (host.json <c>maxDequeueCount</c>).
/// </remarks>
public sealed partial class PreprocessFunction(PreprocessHandler handler, ILogger<PreprocessFunction> logger)
{
    public const string Name = "Preprocess";

    /// <summary>Returns the training request as the queue message text (JSON), or <c>null</c> for no message.</summary>
    [Function(Name)]
    [QueueOutput(StorageNames.TrainRequestsQueue, Connection = StorageOptions.Section)]
    public async Task<string?> RunAsync(
        [QueueTrigger(StorageNames.BlobCreatedQueue, Connection = StorageOptions.Section)] string message,
        CancellationToken cancellationToken)
    {
        var blobEvent = BlobEventMessage.Decode(message)
            ?? throw new InvalidOperationException("The blob-created message is not an Event Grid Microsoft.Storage.BlobCreated event.");

        var outcome = await handler.HandleAsync(blobEvent, cancellationToken);
        LogOutcome(logger, outcome.Result, blobEvent.Subject, outcome.Detail ?? outcome.TrainRequest?.DatasetVersion);
        return outcome.TrainRequest is { } request
            ? System.Text.Json.JsonSerializer.Serialize(request, PipelineJson.Default.TrainRequest)
            : null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Preprocess {Result} for {Subject}: {Detail}")]
    private static partial void LogOutcome(ILogger logger, PreprocessResult result, string? subject, string? detail);
}
