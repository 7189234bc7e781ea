using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Contracts;

namespace Pipeline.Storage;

/// <summary>What <c>models/{model}/current.json</c> said when it was read, and its ETag (both null: there is none).</summary>
public sealed record PointerState(CurrentPointer? Current, ETag? ETag)
{
    public static readonly PointerState None = new(null, null);
}

/// <summary>
/// The one owner of <c>models/{model}/current.json</c> in storage: a caller reads the pointer, decides on what it read,
/// and moves it only if nobody has moved it since (If-Match on the ETag it read, If-None-Match: * when there was none).
/// A lost race is reported, never overwritten: the caller reads again and decides again on what is current now. The
/// trainer's champion/challenger step promotes through it; the serving app's rollback moves the same blob with the
/// same conditions through its model store.
/// </summary>
public static class ModelPointer
{
    public static async Task<PointerState> ReadAsync(BlobContainerClient models, string model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(models);
        var read = await BlobJson.ReadAsync(models.GetBlobClient(StorageNames.CurrentPointerPath(model)), PipelineJson.Default.CurrentPointer, cancellationToken).ConfigureAwait(false);
        return read is { } r ? new PointerState(r.Value, r.ETag) : PointerState.None;
    }

    /// <summary>Points <paramref name="model"/> at <paramref name="version"/> if the pointer is still <paramref name="expected"/>; false when it was moved meanwhile.</summary>
    public static async Task<bool> TryMoveAsync(BlobContainerClient models, string model, string version, PointerState expected, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(expected);
        var conditions = expected.ETag is { } etag ? new BlobRequestConditions { IfMatch = etag } : new BlobRequestConditions { IfNoneMatch = ETag.All };
        try
        {
            await BlobJson.WriteAsync(models.GetBlobClient(StorageNames.CurrentPointerPath(model)), new CurrentPointer { Version = version, UpdatedAt = now },
                PipelineJson.Default.CurrentPointer, conditions, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return false;
        }
    }
}
