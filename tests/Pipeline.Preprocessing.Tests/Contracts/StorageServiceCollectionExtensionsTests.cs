using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pipeline.Storage;

namespace Pipeline.Tests.Core.Storage;

public class StorageServiceCollectionExtensionsTests
{
    private static ServiceProvider CreateSut(Dictionary<string, string?> settings) =>
        new ServiceCollection().AddPipelineStorage(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()).BuildServiceProvider();

    [Fact]
    public void AddPipelineStorage_ServiceUris_RegistersClientsForThoseAccounts()
    {
        using var services = CreateSut(new()
        {
            ["Storage:BlobServiceUri"] = "https://account.blob.core.windows.net",
            ["Storage:QueueServiceUri"] = "https://account.queue.core.windows.net",
            ["Storage:clientId"] = "00000000-0000-0000-0000-000000000001",
        });

        Assert.Equal("account", services.GetRequiredService<BlobServiceClient>().AccountName);
        Assert.Equal("account", services.GetRequiredService<QueueServiceClient>().AccountName);
        Assert.Equal("00000000-0000-0000-0000-000000000001", services.GetRequiredService<IOptions<StorageOptions>>().Value.ClientId);
    }

    [Fact]
    public void AddPipelineStorage_ConnectionString_RegistersClientsForThatAccount()
    {
        using var services = CreateSut(new() { ["Storage:ConnectionString"] = "UseDevelopmentStorage=true" });

        Assert.Equal("devstoreaccount1", services.GetRequiredService<BlobServiceClient>().AccountName);
        Assert.Equal("devstoreaccount1", services.GetRequiredService<QueueServiceClient>().AccountName);
    }

    [Fact]
    public void AddPipelineStorage_OneServiceUriOnly_FailsValidation()
    {
        using var services = CreateSut(new() { ["Storage:BlobServiceUri"] = "https://account.blob.core.windows.net" });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<BlobServiceClient>());

        Assert.Contains("Storage:QueueServiceUri", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddPipelineStorage_NothingConfigured_FailsValidationNamingTheSettings()
    {
        using var services = CreateSut([]);

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<StorageOptions>>().Value);

        Assert.Contains("Storage:ConnectionString", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mydata", true)]
    [InlineData("my-data_2", true)]
    [InlineData("MyData", false)]
    [InlineData("-data", false)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    public void IsValidName_FollowsTheNamingRule(string name, bool valid) => Assert.Equal(valid, StorageNames.IsValidName(name));
}

public class StorageNamesTests
{
    [Theory]
    [InlineData("sales.csv", "sales")]
    [InlineData("sales.2024.csv", "sales-2024")]
    [InlineData("sales.2025.csv.gz", "sales-2025")]
    [InlineData("Sales Report.JSONL", "sales-report")]
    [InlineData("export.parquet", "export")]
    [InlineData("notes.md", "notes-md")]
    public void DatasetOfRootFile_WholeNameWithoutTheDataExtension_AsAValidName(string file, string dataset)
    {
        Assert.Equal(dataset, Pipeline.Storage.StorageNames.DatasetOfRootFile(file));
        Assert.True(Pipeline.Storage.StorageNames.IsValidName(dataset));
    }
}
