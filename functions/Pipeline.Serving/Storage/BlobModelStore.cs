using System.Runtime.CompilerServices;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Storage;

namespace Pipeline.Serving.Storage;

/// <summary>The <c>models</c> blob container (Azure Storage, or Azurite locally).</summary>
public sealed class BlobModelStore(BlobServiceClient blobs) : IModelStore
{
    private BlobContainerClient Container => blobs.GetBlobContainerClient(StorageNames.ModelsContainer);

    public async Task<StoredFile?> ReadAsync(string path, string? ifNoneMatch, long maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            var conditions = ifNoneMatch is null ? null : new BlobRequestConditions { IfNoneMatch = new ETag(ifNoneMatch) };
            var response = await Container.GetBlobClient(path).DownloadStreamingAsync(new BlobDownloadOptions { Conditions = conditions }, cancellationToken).ConfigureAwait(false);
            if (response.GetRawResponse().Status == 304)
            {
                return new StoredFile([], ifNoneMatch!, Unchanged: true); // the SDK answers a met If-None-Match without a value
            }

            using var download = response.Value;
            var length = download.Details.ContentLength;
            if (length > maxBytes)
            {
                throw new InvalidDataException($"{path} is {length} bytes; the limit is {maxBytes}.");
            }

            var content = new byte[length];
            await download.Content.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
            return new StoredFile(content, download.Details.ETag.ToString());
        }
        catch (RequestFailedException e) when (e.Status == 304)
        {
            return new StoredFile([], ifNoneMatch!, Unchanged: true);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null; // no such blob, or no models container yet
        }
    }

    public async IAsyncEnumerable<StoredItem> ListAsync(string? prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pages = Container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, cancellationToken).AsPages().GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await pages.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    yield break; // no models container yet
                }

                foreach (var item in pages.Current.Values)
                {
                    yield return new StoredItem(item.Name, item.Properties.LastModified ?? DateTimeOffset.MinValue);
                }
            }
        }
        finally
        {
            await pages.DisposeAsync().ConfigureAwait(false);
        }
    }

    public Task<PointerState> ReadPointerAsync(string model, CancellationToken cancellationToken) =>
        ModelPointer.ReadAsync(Container, model, cancellationToken);

    public Task<PointerState?> TryMovePointerAsync(string model, string version, PointerState expected, DateTimeOffset now, CancellationToken cancellationToken) =>
        ModelPointer.TryMoveAsync(Container, model, version, expected, now, cancellationToken);
}
