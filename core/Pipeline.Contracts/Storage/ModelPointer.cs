using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Contracts;

namespace Pipeline.Storage;

/// <summary>
/// What <c>models/{model}/current.json</c> said when it was read, and its ETag. Both null: there is none. A pointer whose
/// content is not a valid pointer has a null <see cref="Current"/> and its ETag, so a move replaces it, still conditionally.
/// </summary>
public sealed record PointerState(CurrentPointer? Current, ETag? ETag)
{
    public static readonly PointerState None = new(null, null);
}

/// <summary>
/// The one owner of <c>models/{model}/current.json</c>: a caller reads the pointer, decides on what it read, and moves it
/// only if nobody has moved it since (If-Match on the ETag it read, If-None-Match: * when there was none). A lost race is
/// reported, never overwritten: the caller reads again and decides again on what is current now. The trainer's
/// champion/challenger step and the serving app's rollback (through its model store, which also keeps the same pointer
/// in a local folder) both move the pointer here.
/// </summary>
public static class ModelPointer
{
    /// <summary>The largest pointer document read; a pointer is a few dozen bytes.</summary>
    public const int MaxDocumentBytes = 64 * 1024;

    public static async Task<PointerState> ReadAsync(BlobContainerClient models, string model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(models);
        var blob = models.GetBlobClient(StorageNames.CurrentPointerPath(model));
        try
        {
            using var download = (await blob.DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            var etag = download.Details.ETag;
            if (download.Details.ContentLength > MaxDocumentBytes)
            {
                return new PointerState(null, etag); // not a pointer: replaceable, still conditionally
            }

            var content = new byte[download.Details.ContentLength];
            await download.Content.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
            return new PointerState(Parse(content), etag);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return PointerState.None;
        }
    }

    /// <summary>
    /// Points <paramref name="model"/> at <paramref name="version"/> if the pointer is still <paramref name="expected"/>:
    /// the pointer as written, or null when it was moved meanwhile.
    /// </summary>
    public static async Task<PointerState?> TryMoveAsync(BlobContainerClient models, string model, string version, PointerState expected, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(expected);
        var conditions = expected.ETag is { } etag ? new BlobRequestConditions { IfMatch = etag } : new BlobRequestConditions { IfNoneMatch = ETag.All };
        var pointer = new CurrentPointer { Version = version, UpdatedAt = now };
        try
        {
            var written = await BlobJson.WriteAsync(models.GetBlobClient(StorageNames.CurrentPointerPath(model)), pointer, PipelineJson.Default.CurrentPointer, conditions, cancellationToken).ConfigureAwait(false);
            return new PointerState(pointer, written);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return null;
        }
    }

    /// <summary>The pointer a document holds; null when it is not JSON or names no valid version.</summary>
    public static CurrentPointer? Parse(ReadOnlySpan<byte> content)
    {
        try
        {
            var pointer = JsonSerializer.Deserialize(content, PipelineJson.Default.CurrentPointer);
            return StorageNames.IsValidVersion(pointer?.Version) ? pointer : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The document that points at <paramref name="version"/>.</summary>
    public static byte[] Serialize(string version, DateTimeOffset now) =>
        JsonSerializer.SerializeToUtf8Bytes(new CurrentPointer { Version = version, UpdatedAt = now }, PipelineJson.Default.CurrentPointer);
}
