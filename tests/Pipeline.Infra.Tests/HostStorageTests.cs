namespace Pipeline.Infra.Tests;

/// <summary>
/// Each function app keeps its Functions host storage (AzureWebJobsStorage: function keys in <c>azure-webjobs-secrets</c>,
/// locks in <c>azure-webjobs-hosts</c>, names the host fixes) and its Flex package in a storage account of its own, so the
/// app that parses untrusted uploads cannot read the serving app's keys. Checked on the predicted deployment.
/// </summary>
public sealed class HostStorageTests(DeploymentSnapshot snapshot)
{
    private static readonly string[] Apps = ["functions", "serving"];

    private static readonly string[] HostContainers = ["azure-webjobs-hosts", "azure-webjobs-secrets"];

    private const string BlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    private const string BlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

    /// <summary>The account an app's AzureWebJobsStorage points at.</summary>
    private string HostAccountOf(string app) =>
        DeploymentSnapshot.AccountReadBy(snapshot.App(app), "AzureWebJobsStorage__blobServiceUri");

    [Fact]
    public void HostStorage_EachApp_IsAnAccountOfItsOwn()
    {
        var functionsHost = HostAccountOf("functions");
        var servingHost = HostAccountOf("serving");
        var pipeline = snapshot.PipelineAccount.Id;

        Assert.NotEqual(functionsHost, servingHost);
        Assert.Equal(3, new[] { functionsHost, servingHost, pipeline }.Distinct().Count());
        Assert.Equal(3, snapshot.StorageAccounts.Count());
        foreach (var app in Apps)
        {
            var site = snapshot.App(app);
            Assert.Equal(HostAccountOf(app), DeploymentSnapshot.AccountReadBy(site, "AzureWebJobsStorage__queueServiceUri"));
            // The Flex package is in the host account too.
            var package = site.Properties.StringAt("functionAppConfig", "deployment", "storage", "value");
            Assert.Equal(HostAccountOf(app), DeploymentSnapshot.AccountIdOf(package));
            Assert.EndsWith(".primaryEndpoints.blob, 'app-package')]", package, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void HostStorage_TheAppsStorageConnection_StaysOnThePipelineAccount()
    {
        foreach (var app in Apps)
        {
            var site = snapshot.App(app);
            Assert.Equal(snapshot.PipelineAccount.Id, DeploymentSnapshot.AccountReadBy(site, "Storage__BlobServiceUri"));
            Assert.Equal(snapshot.PipelineAccount.Id, DeploymentSnapshot.AccountReadBy(site, "Storage__QueueServiceUri"));
        }
    }

    [Fact]
    public void HostStorage_Accounts_HoldTheHostContainersAndThePackageOnly()
    {
        foreach (var app in Apps)
        {
            var account = Assert.Single(snapshot.StorageAccounts, account => account.Id == HostAccountOf(app));
            Assert.Equal(["app-package", .. HostContainers], snapshot.ContainersOf(account).Order(StringComparer.Ordinal));
        }

        Assert.DoesNotContain(snapshot.ContainersOf(snapshot.PipelineAccount), name => name.StartsWith("azure-webjobs-", StringComparison.Ordinal));
        Assert.DoesNotContain(snapshot.ContainersOf(snapshot.PipelineAccount), name => name.StartsWith("app-package", StringComparison.Ordinal));
    }

    [Fact]
    public void HostStorage_NoPrincipal_HasAnyRoleOnAnotherAppsHostAccount()
    {
        foreach (var app in Apps)
        {
            var identity = DeploymentSnapshot.IdentityOf(snapshot.App(app));
            var onHostAccount = snapshot.RoleAssignments.Where(grant => grant.IsWithin(HostAccountOf(app))).ToList();

            Assert.NotEmpty(onHostAccount);
            Assert.All(onHostAccount, grant => Assert.Equal(identity, grant.Principal));
        }
    }

    [Fact]
    public void HostStorage_EachIdentity_OwnsItsHostContainersOnly_AndWritesItsPackage()
    {
        foreach (var app in Apps)
        {
            var identity = DeploymentSnapshot.IdentityOf(snapshot.App(app));
            var host = HostAccountOf(app);
            var expected = HostContainers.Select(container => new RoleGrant($"{host}/blobServices/default/containers/{container}", identity, BlobDataOwner))
                .Append(new RoleGrant($"{host}/blobServices/default/containers/app-package", identity, BlobDataContributor))
                .OrderBy(grant => grant.Scope, StringComparer.Ordinal);

            var actual = snapshot.RoleAssignments.Where(grant => grant.IsWithin(host)).OrderBy(grant => grant.Scope, StringComparer.Ordinal);

            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void HostStorage_ServingAndFunctionsIdentities_HaveNoRoleOnEachOthersAppContainers()
    {
        var functions = DeploymentSnapshot.IdentityOf(snapshot.App("functions"));
        var serving = DeploymentSnapshot.IdentityOf(snapshot.App("serving"));

        Assert.DoesNotContain(snapshot.RoleAssignments, grant => grant.Principal == serving && grant.IsWithin(HostAccountOf("functions")));
        Assert.DoesNotContain(snapshot.RoleAssignments, grant => grant.Principal == functions && grant.IsWithin(HostAccountOf("serving")));
        // Nor any other way to a container named azure-webjobs-secrets than its own app's.
        var secretsGrants = snapshot.RoleAssignments.Where(grant => grant.Scope.EndsWith("/containers/azure-webjobs-secrets", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, secretsGrants.Count);
        Assert.Contains(secretsGrants, grant => grant.Principal == functions && grant.IsWithin(HostAccountOf("functions")));
        Assert.Contains(secretsGrants, grant => grant.Principal == serving && grant.IsWithin(HostAccountOf("serving")));
    }

    [Fact]
    public void HostStorage_NoRole_IsGrantedOnAWholeAccount()
    {
        var accounts = snapshot.StorageAccounts.Select(account => account.Id).ToHashSet();
        Assert.DoesNotContain(snapshot.RoleAssignments, grant => accounts.Contains(grant.Scope) || grant.Scope.EndsWith("/blobServices/default", StringComparison.Ordinal));
    }
}
