process GENES {
    tag "${annotation.name}"
    label 'process_single'

    input:
    path annotation
    path expression
    path gene_list    // [] when not given
    path contigs

    output:
    path 'genes/genes.tsv',      emit: genes
    path 'genes/batches/*.tsv',  emit: batches
    path 'versions.yml',         emit: versions

    script:
    def args  = task.ext.args ?: ''   // gene_types, chromosomes, window_length, genes_per_batch (conf/modules.config)
    def glist = gene_list ? "--gene-list ${gene_list}" : ''
    """
    seqgx genes \\
        --annotation ${annotation} --expression ${expression} ${glist} --contigs ${contigs} ${args} --out genes

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p genes/batches
    printf 'gene_id\\n' > genes/genes.tsv
    printf 'gene_id\\tvcf_contig\\nstub\\t\\n' > genes/batches/stub_0.tsv
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
