namespace Pipeline.Storage;

/// <summary>
/// Where the storage account is. Locally a connection string (Azurite: <c>UseDevelopmentStorage=true</c>);
/// in Azure the service URIs, authenticated with the app's managed identity.
/// </summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    public string? ConnectionString { get; set; }

    public Uri? BlobServiceUri { get; set; }

    public Uri? QueueServiceUri { get; set; }

    /// <summary>
    /// Client id of the user-assigned managed identity (Azure only): <c>Storage__clientId</c>, the same setting the
    /// Functions host reads for the <c>Storage</c> binding connection; <c>AZURE_CLIENT_ID</c> when unset.
    /// </summary>
    public string? ClientId { get; set; }
}
