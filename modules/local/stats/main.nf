process STATS {
    tag "${batch_id}"
    label 'process_low'

    input:
    // ism is [] in phase 1 (STATS: every gene, no attribution) and the batch's ISM tables in phase 2
    // (ATTRIBUTION_STATS: the selected genes); vcf and vcf_index are [] unless the PrediXcan baseline
    // (predictdb) reads genotypes
    tuple val(batch_id), path(haplotypes), path(predictions), path(ism), path(vcf), path(vcf_index)
    path expression         // genes x samples TSV or tensorQTL phenotype BED
    path predictdb          // [] when not given
    path covariates         // [] when not given: with them every R is a partial correlation
    path finemapped         // [] when not given: drivers annotated with the fine-mapped causal variants

    output:
    path "stats/${batch_id}.genes.tsv",    emit: genes
    path "stats/${batch_id}.drivers.tsv",  emit: drivers
    path "stats/${batch_id}.genedata.npz", emit: genedata   // what the report's gene pages plot
    path 'versions.yml',                   emit: versions

    script:
    def db   = predictdb ? "--predictdb ${predictdb} --vcf ${vcf}" : ''
    def attr = ism ? "--ism ${ism}" : ''
    def enet = params.elastic_net_baseline ? '--elastic-net-baseline' : ''
    def cov  = covariates ? "--covariates ${covariates}" : ''
    def fine = finemapped ? "--finemapped ${finemapped}" : ''
    // null_draws unset: the null test's own default (50 for 'paper' as published, 1000 for 'empirical')
    def draws = params.null_draws ? "--null-draws ${params.null_draws}" : ''
    """
    seqgx stats \\
        --haplotypes ${haplotypes} --predictions ${predictions} ${attr} \\
        --expression ${expression} ${cov} ${fine} ${db} ${enet} \\
        --null-test ${params.null_test} ${draws} --seed ${params.seed} \\
        --min-samples ${params.min_samples} --batch-name ${batch_id} --threads ${task.cpus} --out stats

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p stats
    touch stats/${batch_id}.genes.tsv stats/${batch_id}.drivers.tsv stats/${batch_id}.genedata.npz
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
