process STATS {
    tag "${batch_id}"
    label 'process_low'

    input:
    // vcf and vcf_index are [] unless the PrediXcan baseline (predictdb) reads genotypes
    tuple val(batch_id), path(haplotypes), path(predictions), path(ism), path(vcf), path(vcf_index)
    path expression
    path predictdb          // [] when not given

    output:
    path "stats/${batch_id}.genes.tsv",    emit: genes
    path "stats/${batch_id}.drivers.tsv",  emit: drivers
    path 'versions.yml',                   emit: versions

    script:
    def db   = predictdb ? "--predictdb ${predictdb} --vcf ${vcf}" : ''
    def enet = params.elastic_net_baseline ? '--elastic-net-baseline' : ''
    // null_draws unset: the null test's own default (50 for 'paper' as published, 1000 for 'empirical')
    def draws = params.null_draws ? "--null-draws ${params.null_draws}" : ''
    """
    seqgx stats \\
        --haplotypes ${haplotypes} --predictions ${predictions} --ism ${ism} \\
        --expression ${expression} ${db} ${enet} \\
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
    touch stats/${batch_id}.genes.tsv stats/${batch_id}.drivers.tsv
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
