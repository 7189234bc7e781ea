using Azure.Storage.Blobs;

namespace Pipeline.Serving.Storage;

/// <summary>
/// The storage account's other containers (<c>runs</c>, <c>datasets</c>), read by the runs and datasets APIs. Serving from
/// a local folder (<c>Models:Path</c>) has no storage account: <see cref="Blobs"/> is null there, and those APIs answer
/// a problem that says so (<see cref="NotInFolderMode"/>).
/// </summary>
public sealed class PipelineStorage(BlobServiceClient? blobs)
{
    public BlobServiceClient? Blobs => blobs;

    /// <summary>The detail of the 404 problem an API that needs the storage account answers in <c>Models:Path</c> mode.</summary>
    public static string NotInFolderMode(string what) =>
        $"{what} are kept in the storage account; this app serves models from a local folder (Models:Path), so it has none to show.";
}
