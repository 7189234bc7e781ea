using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Storage.Blobs;
using Pipeline.Storage;
using Pipeline.Training;

namespace Pipeline.Trainer.Runs;

/// <summary>JSON for trainer-internal documents (checkpoints): non-finite losses allowed (the first best loss is +∞).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SearchState))]
internal sealed partial class TrainerJson : JsonSerializerContext;

/// <summary>
/// <c>runs/{runId}/checkpoint.json</c>: the whole <see cref="SearchState"/> of an interrupted run — finished trials, the best
/// weights so far, and the running trial's position, weights and AdamW moments. Deleted once the run publishes.
/// </summary>
public sealed partial class CheckpointStore(BlobServiceClient blobs, ILogger<CheckpointStore> logger)
{
    private BlobContainerClient Runs => blobs.GetBlobContainerClient(StorageNames.RunsContainer);

    /// <summary>The checkpoint of <paramref name="runId"/>, or null when there is none or it was taken with other data or settings.</summary>
    public async Task<SearchState?> LoadAsync(string runId, string fingerprint, CancellationToken cancellationToken)
    {
        BinaryData content;
        try
        {
            content = (await Runs.GetBlobClient(StorageNames.RunCheckpointPath(runId)).DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value.Content;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }

        SearchState? state;
        try
        {
            state = JsonSerializer.Deserialize(content.ToMemory().Span, TrainerJson.Default.SearchState);
        }
        catch (JsonException e)
        {
            LogUnreadable(logger, runId, e.Message);
            return null;
        }

        if (state is null || state.Fingerprint != fingerprint)
        {
            LogStale(logger, runId);
            return null;
        }

        return state;
    }

    public Task SaveAsync(string runId, SearchState state, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        return SaveAsync(runId, JsonSerializer.SerializeToUtf8Bytes(state, TrainerJson.Default.SearchState), state.Completed.Count, state.Current?.Epoch ?? 0, cancellationToken);
    }

    /// <summary>Saves a checkpoint serialized earlier (<see cref="PeriodicCheckpoint"/> takes it on the search thread).</summary>
    public async Task SaveAsync(string runId, byte[] checkpoint, int trials, int epoch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        await Runs.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await Runs.GetBlobClient(StorageNames.RunCheckpointPath(runId)).UploadAsync(new BinaryData(checkpoint), overwrite: true, cancellationToken).ConfigureAwait(false);
        LogSaved(logger, runId, checkpoint.Length, trials, epoch);
    }

    public async Task DeleteAsync(string runId, CancellationToken cancellationToken) =>
        await Runs.GetBlobClient(StorageNames.RunCheckpointPath(runId)).DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);

    [LoggerMessage(Level = LogLevel.Information, Message = "Checkpointed run {RunId} ({Bytes} bytes): {Trials} trials done, current trial at epoch {Epoch}")]
    private static partial void LogSaved(ILogger logger, string runId, int bytes, int trials, int epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint of run {RunId} is for other data or settings; starting over")]
    private static partial void LogStale(ILogger logger, string runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint of run {RunId} is unreadable ({Error}); starting over")]
    private static partial void LogUnreadable(ILogger logger, string runId, string error);
}
