using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Pipeline.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="BlobServiceClient"/> and <see cref="QueueServiceClient"/> from the <c>Storage</c> section: a
    /// connection string locally, service URIs with managed identity in Azure. Queue messages are read and written
    /// unencoded, as Event Grid writes them. The clients are built directly (as the AOT-compiled serving app builds its
    /// own: no reflection-based client factory) and the options are checked at start-up.
    /// </summary>
    public static IServiceCollection AddPipelineStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.Section))
            .PostConfigure(options =>
            {
                // A connection string set as the value of `Storage` itself is how the Functions host reads the binding
                // connection named Storage (local.settings.json for `func start`): the app's clients take it too.
                if (string.IsNullOrWhiteSpace(options.ConnectionString) && configuration[StorageOptions.Section] is { Length: > 0 } connection)
                {
                    options.ConnectionString = connection;
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();

        // One credential (and token cache) for both clients: the app's managed identity, user-assigned when a client id
        // is set (Storage__clientId or AZURE_CLIENT_ID).
        ManagedIdentityCredential? credential = null;
        ManagedIdentityCredential Credential(StorageOptions options) => LazyInitializer.EnsureInitialized(ref credential, () =>
        {
            var clientId = string.IsNullOrWhiteSpace(options.ClientId) ? configuration["AZURE_CLIENT_ID"] : options.ClientId;
            return new ManagedIdentityCredential(string.IsNullOrWhiteSpace(clientId)
                ? ManagedIdentityId.SystemAssigned
                : ManagedIdentityId.FromUserAssignedClientId(clientId));
        });
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<StorageOptions>>().Value;
            return string.IsNullOrWhiteSpace(options.ConnectionString)
                ? new BlobServiceClient(options.BlobServiceUri, Credential(options))
                : new BlobServiceClient(options.ConnectionString);
        });
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<StorageOptions>>().Value;
            var clientOptions = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.None };
            return string.IsNullOrWhiteSpace(options.ConnectionString)
                ? new QueueServiceClient(options.QueueServiceUri, Credential(options), clientOptions)
                : new QueueServiceClient(options.ConnectionString, clientOptions);
        });
        return services;
    }
}

/// <summary>A connection string, or both service URIs (blob and queue) for managed identity.</summary>
public sealed class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.IsNullOrWhiteSpace(options.ConnectionString) && (options.BlobServiceUri is null || options.QueueServiceUri is null)
            ? ValidateOptionsResult.Fail("Set Storage:ConnectionString (local, e.g. UseDevelopmentStorage=true) or both Storage:BlobServiceUri and Storage:QueueServiceUri (Azure, managed identity).")
            : ValidateOptionsResult.Success;
    }
}
