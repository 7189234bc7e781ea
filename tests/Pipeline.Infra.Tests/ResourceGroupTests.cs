namespace Pipeline.Infra.Tests;

public sealed class ResourceGroupTests(CompiledTemplate template)
{
    [Fact]
    public void MainTemplate_Scope_IsSubscription()
    {
        Assert.Contains("subscriptionDeploymentTemplate.json", template.Root.StringAt("$schema"), StringComparison.Ordinal);
    }

    [Fact]
    public void ResourceGroup_Name_IsRgPrefixedEnvironmentNameWithAzdTag()
    {
        var group = template.SingleOf("Microsoft.Resources/resourceGroups");
        Assert.Equal("[format('rg-{0}', parameters('environmentName'))]", group.Name);
        Assert.Equal("[parameters('environmentName')]", template.Root.StringAt("variables", "tags", "azd-env-name"));
    }

    [Fact]
    public void ResourceToken_Seed_IsSubscriptionEnvironmentAndLocation()
    {
        Assert.Equal(
            "[toLower(uniqueString(subscription().id, parameters('environmentName'), parameters('location')))]",
            template.Root.StringAt("variables", "resourceToken"));
    }
}
